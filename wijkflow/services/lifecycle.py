"""The gated lifecycle: completing deliverables, approving, deadlines, and moving phases."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from .. import engine, store
from ..app import App
from ..definitions import ApprovalCriterion, DeliverableCriterion, PartiesCriterion
from ..errors import Conflict, GateNotMet, InvalidInput, NotAllowed, NotFound
from ..reminders import notify
from ..reminders import schedule as reminder_schedule
from .aanpak import gate_view
from .common import Context, actor, actor_and_load, clean_text, facts, load_open, local_iso, parse_date, person_ref
from .parties import approve_party_in


def _criterion(ctx: Context, key: str) -> Any:
    d = ctx.definition
    criterion = d.criteria.get(key)
    if criterion is None:
        raise NotFound(f"Workflow {d.ref} has no criterion '{key}'; `wijkflow gate {ctx.row.slug}` "
                       "lists the ones that count now.")
    current = {k for t in d.outgoing(ctx.row.phase) for k in t.gate}
    if key not in current:
        owners = sorted({t.source for t in d.transitions if key in t.gate})
        raise InvalidInput(f"'{key}' belongs to the gate out of {', '.join(owners) or 'no phase'}, "
                           f"not of the current phase {ctx.row.phase} ({d.phase_label(ctx.row.phase)}).")
    return criterion


def _acting_on(conn: sa.Connection, app: App, acting: str | None, ref: str, key: str) -> tuple[Any, Context, Any]:
    """Who acts, on which aanpak, and the criterion `key` of its current gate (refusals in that order)."""
    who = actor(conn, acting)
    ctx = load_open(conn, ref, app.definitions)
    return who, ctx, _criterion(ctx, key)


def complete(app: App, ref: str, key: str, *, evidence: str | None = None,
             acting: str | None) -> dict[str, Any]:
    evidence = clean_text(evidence, "evidence", multiline=True)
    now = app.now()
    with app.db.write() as conn:
        who, ctx, criterion = _acting_on(conn, app, acting, ref, key)
        if not isinstance(criterion, DeliverableCriterion):
            how = ("is an approval; use `wijkflow approve`" if criterion.kind in ("approval", "parties")
                   else "is recorded with `wijkflow interpret`" if criterion.kind == "interpretation"
                   else "is checked by wijkflow itself and cannot be completed by hand")
            raise InvalidInput(f"'{key}' {how}.")
        ctx.require_role(who, "projectleider", "complete deliverables")
        if criterion.evidence_required and not evidence:
            raise InvalidInput(f"'{key}' needs evidence: pass --evidence with a link or a short description.")
        visit = 0 if criterion.scope == "aanpak" else ctx.row.visit
        store.insert_record(conn, aanpak_id=ctx.row.id, visit=visit, criterion=key, action="completed",
                            person_id=who.id, evidence=evidence, at=now)
        store.touch_aanpak(conn, ctx.row.id, now)
        store.append_event(conn, at=now, type="criterion_completed", aanpak_id=ctx.row.id, actor_id=who.id,
                           from_phase=ctx.row.phase, evidence=evidence,
                           payload={"criterion": key, "label": criterion.label, "visit": visit})
        notify.gate_changed(conn, app, aanpak_id=ctx.row.id, definition=ctx.definition, now=now)
    return {"aanpak": ctx.row.slug, "criterion": key, "label": criterion.label, "completed": True,
            "evidence": evidence}


def approve(app: App, ref: str, key: str, *, comment: str | None = None, party: str | None = None,
            evidence: str | None = None, acting: str | None) -> dict[str, Any]:
    comment = clean_text(comment, "comment", multiline=True)
    evidence = clean_text(evidence, "evidence", multiline=True)
    now = app.now()
    with app.db.write() as conn:
        who, ctx, criterion = _acting_on(conn, app, acting, ref, key)
        if isinstance(criterion, PartiesCriterion):
            return approve_party_in(conn, app, ctx, who, key, criterion, party=party, evidence=evidence,
                                    comment=comment, now=now)
        if party is not None or evidence is not None:
            raise InvalidInput(f"'{key}' is not signed per party; --party and --evidence are for criteria "
                               "such as a gebiedstafel or lokaal contract.")
        if not isinstance(criterion, ApprovalCriterion):
            raise InvalidInput(f"'{key}' is not an approval; "
                               + ("use `wijkflow complete`." if criterion.kind == "deliverable"
                                  else "wijkflow checks it by itself."))
        ctx.require_role(who, criterion.role, f"approve '{key}'")
        f = facts(conn, ctx)
        _refuse_second_approval(conn, app, ctx, key, criterion, f)
        if criterion.approves is not None:
            target = f.latest(criterion.approves, "completed")
            if target is None:
                raise InvalidInput(f"'{criterion.approves}' is not completed yet; there is nothing to approve.")
            if target.person_id == who.id:
                raise NotAllowed(f"You completed '{criterion.approves}' yourself; someone else with the "
                                 f"{criterion.role} role must approve it (four-eyes).")
        visit = 0 if criterion.scope == "aanpak" else ctx.row.visit
        store.insert_record(conn, aanpak_id=ctx.row.id, visit=visit, criterion=key, action="approved",
                            person_id=who.id, comment=comment, at=now)
        store.touch_aanpak(conn, ctx.row.id, now)
        store.append_event(conn, at=now, type="criterion_approved", aanpak_id=ctx.row.id, actor_id=who.id,
                           from_phase=ctx.row.phase, reason=comment,
                           payload={"criterion": key, "label": criterion.label, "visit": visit,
                                    "approves": criterion.approves})
        notify.gate_changed(conn, app, aanpak_id=ctx.row.id, definition=ctx.definition, now=now)
    return {"aanpak": ctx.row.slug, "criterion": key, "label": criterion.label, "approved": True}


def _refuse_second_approval(conn: sa.Connection, app: App, ctx: Context, key: str, criterion: ApprovalCriterion,
                             f: Any) -> None:
    """Once means once: an approval that still stands is not given twice (exit 6).

    It no longer stands once withdrawn, or when the deliverable it approves was completed again since."""
    given = f.latest(key, "approved")
    if given is None:
        return
    if criterion.approves is not None:
        target = f.latest(criterion.approves, "completed")
        if target is not None and target.at > given.at:
            return
    by = person_ref(store.people_by_id(conn, {given.person_id}), given.person_id) or {}
    day = (local_iso(given.at, app.tz) or "")[:10]
    raise Conflict(f"'{key}' is already approved by {by.get('name') or 'someone'} on {day}; nothing was changed "
                   f"(to change the comment, `wijkflow withdraw {ctx.row.slug} {key} --reason` and approve again).")


def set_deadline(app: App, ref: str, key: str, due: str, *, acting: str | None) -> dict[str, Any]:
    day = parse_date(due, "deadline")
    now = app.now()
    with app.db.write() as conn:
        who = actor(conn, acting)
        ctx = load_open(conn, ref, app.definitions)
        if key not in ctx.definition.criteria:
            raise NotFound(f"Workflow {ctx.definition.ref} has no criterion '{key}'.")
        ctx.require_role(who, "projectleider", "set deadlines")
        old = store.set_deadline(conn, ctx.row.id, key, day)
        reminder_schedule.on_deadline_set(conn, app, aanpak_id=ctx.row.id, definition=ctx.definition,
                                          criterion=key, due=day, previous=old, now=now)
        store.append_event(conn, at=now, type="deadline_set", aanpak_id=ctx.row.id, actor_id=who.id,
                           payload={"criterion": key, "due": day.isoformat(),
                                    "previous": old.isoformat() if old else None})
    return {"aanpak": ctx.row.slug, "criterion": key, "due": day.isoformat(),
            "previous": old.isoformat() if old else None}


def advance(app: App, ref: str, *, acting: str | None, to: str | None = None, reason: str | None = None,
            dry_run: bool = False, override: bool = False, expected_version: int | None = None) -> dict[str, Any]:
    """Move an aanpak to its next phase if the gate is met.

    Optimistic: the phase is read first and the write only lands if nobody moved the
    aanpak in between, so of two concurrent advances exactly one wins; the other gets a
    Conflict (exit 6) rather than silently advancing a second time.
    """
    reason = clean_text(reason, "reason", multiline=True)
    if override and not reason:
        raise InvalidInput("An override needs a --reason: it is recorded in the history.")
    now = app.now()
    # One pooled connection: the version is read on its own, then the write transaction begins.
    with app.db.peek() as peeked:
        if expected_version is None:
            expected_version = store.aanpak_version(peeked, ref)
        with (app.db.read() if dry_run else app.db.write(peeked)) as conn:
            who, ctx = actor_and_load(conn, acting, ref, app.definitions)
            ctx.require_open()
            row, d = ctx.row, ctx.definition
            if override:
                if who.role != "admin":
                    raise NotAllowed("Only an administrator may override a gate.")
            else:
                ctx.require_role(who, "projectleider", "advance it")
            if row.version != expected_version:
                raise Conflict("Someone else changed this wijkaanpak's phase first; nothing was written. "
                               "Look again with `wijkflow show` and retry.")
            transition = engine.choose_transition(d, row.phase, to)
            # The machine decides and, unless dry, writes the phase, reminders and events (engine.py).
            move = engine.Move(conn=conn, app=app, row=row, definition=d, transition=transition,
                               facts=facts(conn, ctx), who=who, reason=reason, now=now,
                               expected_version=expected_version, override=override, dry_run=dry_run)
            moved = engine.run(move)
            result = move.gate
            assert result is not None
            if not moved and not dry_run:
                raise GateNotMet(aanpak=row.name, source=row.phase, dest=transition.dest, unmet=result.unmet)
            people = store.people_by_id(conn, {c.person_id for c in result.criteria if c.person_id is not None},
                                        known=(who,))
            view = gate_view(ctx, result, people, app)
            outcome = {"aanpak": row.slug, "name": row.name, "from": row.phase, "to": transition.dest,
                       "from_label": d.phase_label(row.phase), "to_label": d.phase_label(transition.dest),
                       "dry_run": dry_run, "override": move.overridden, "gate": view}
            if dry_run:
                outcome["would_move"] = moved
                return outcome
    outcome["moved"] = True
    return outcome
