"""Corrections, never erasure: withdrawing what was given, correcting a figure, ending a role, renaming.

Each correction is its own audited event that points at what it corrects (`corrects`: the id of
that event) and says why; the history shows both. The gates read the corrected state: a withdrawn
completion, approval or sign-off no longer counts (the gate re-opens), a withdrawn measurement
no longer counts, a corrected one counts with its new value.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from .. import store
from ..app import App
from ..definitions import ROLES, ApprovalCriterion, DeliverableCriterion, PartiesCriterion
from ..errors import InvalidInput, NotFound
from ..reminders import notify
from .common import Context, actor, clean_name, clean_text, facts, load_open, person
from .indicators import _number


def _reason(reason: str | None) -> str:
    text = clean_text(reason, "reason", multiline=True)
    if not text:
        raise InvalidInput("A correction needs a --reason: it is recorded in the history next to what it corrects.")
    return text


def _may(ctx: Context, who: Any, role: str, doing: str) -> None:
    """Whoever may give it (the criterion's role), or an administrator."""
    if who.role != "admin":
        ctx.require_role(who, role, doing)


def withdraw(app: App, ref: str, key: str, *, reason: str | None, party: str | None = None,
             acting: str | None) -> dict[str, Any]:
    """Withdraw a deliverable's completion, an approval, or one party's sign-off; the gate re-opens."""
    text = _reason(reason)
    now = app.now()
    with app.db.write() as conn:
        who = actor(conn, acting)
        ctx = load_open(conn, ref, app.definitions)
        row, d = ctx.row, ctx.definition
        criterion = d.criteria.get(key)
        if criterion is None:
            raise NotFound(f"Workflow {d.ref} has no criterion '{key}'.")
        if isinstance(criterion, PartiesCriterion):
            return _withdraw_party(conn, app, ctx, who, key, criterion, party, text, now)
        if party is not None:
            raise InvalidInput(f"'{key}' is not signed per party; --party is for criteria such as a lokaal contract.")
        if isinstance(criterion, DeliverableCriterion):
            action, role, event = "completed", "projectleider", "criterion_completed"
        elif isinstance(criterion, ApprovalCriterion):
            action, role, event = "approved", criterion.role, "criterion_approved"
        else:
            raise InvalidInput(f"'{key}' is checked by wijkflow itself; there is nothing given by hand to withdraw.")
        _may(ctx, who, role, f"withdraw '{key}'")
        visit = 0 if criterion.scope == "aanpak" else row.visit
        given = [r for r in store.records(conn, row.id, row.visit)
                 if r.criterion == key and r.action == action and r.visit == visit]
        if not given:
            raise InvalidInput(f"'{key}' is not {action} in this phase of {row.name}, so there is nothing to withdraw.")
        record = given[-1]
        store.withdraw_record(conn, record.id, now)
        store.touch_aanpak(conn, row.id, now)
        corrects = store.event_of(conn, row.id, event, record.at)
        store.append_event(conn, at=now, type="criterion_withdrawn", aanpak_id=row.id, actor_id=who.id,
                           from_phase=row.phase, reason=text,
                           payload={"criterion": key, "label": criterion.label, "action": action, "visit": visit,
                                    "record_id": record.id, "corrects": corrects})
        if action == "approved":  # the projectleider and approvers hear it (a rule `on: approval_withdrawn`)
            notify.on_approval_withdrawn(conn, app, aanpak_id=row.id, definition=d, criterion=key, phase=row.phase,
                                         visit=row.visit, now=now)
        else:
            notify.gate_changed(conn, app, aanpak_id=row.id, definition=d, now=now)
        open_again = not facts(conn, ctx).latest(key, action)
    return {"aanpak": row.slug, "criterion": key, "label": criterion.label, "withdrawn": action,
            "corrects": corrects, "reason": text, "open": open_again}


def _withdraw_party(conn: sa.Connection, app: App, ctx: Context, who: Any, key: str, c: PartiesCriterion,
                    party: str | None, text: str, now: Any) -> dict[str, Any]:
    if not party:
        raise InvalidInput(f"'{key}' is signed per party: say whose sign-off is withdrawn with --party "
                           f"(one of {', '.join(c.parties)}).")
    wanted = party.strip().casefold()
    party_key = next((k for k, label in c.parties.items() if wanted in (k.casefold(), label.casefold())), None)
    if party_key is None:
        raise NotFound(f"'{key}' has no party '{party}' (parties: {', '.join(c.parties)}).")
    _may(ctx, who, c.role, f"withdraw a sign-off of '{key}'")
    signed = next((p for p in store.party_approvals(conn, ctx.row.id, ctx.row.visit)
                   if p.criterion == key and p.party == party_key), None)
    if signed is None:
        raise InvalidInput(f"{c.parties[party_key]} has not signed '{key}' in this phase of {ctx.row.name}, "
                           "so there is nothing to withdraw.")
    corrects = store.event_of(conn, ctx.row.id, "party_approved", signed.at)
    store.remove_party_approval(conn, signed.id)
    store.touch_aanpak(conn, ctx.row.id, now)
    store.append_event(conn, at=now, type="party_approval_withdrawn", aanpak_id=ctx.row.id, actor_id=who.id,
                       from_phase=ctx.row.phase, reason=text, evidence=signed.evidence,
                       payload={"criterion": key, "label": c.label, "party": party_key,
                                "party_label": c.parties[party_key], "visit": ctx.row.visit,
                                "signed_by": signed.person_id, "corrects": corrects})
    notify.on_approval_withdrawn(conn, app, aanpak_id=ctx.row.id, definition=ctx.definition, criterion=key,
                                 phase=ctx.row.phase, visit=ctx.row.visit, now=now)
    return {"aanpak": ctx.row.slug, "criterion": key, "label": c.label, "withdrawn": "signed",
            "party": party_key, "party_label": c.parties[party_key], "corrects": corrects, "reason": text,
            "open": True}


def _measurement(conn: sa.Connection, ctx: Context, measurement_id: Any) -> Any:
    text = str(measurement_id).strip().lstrip("#")
    m = store.measurement(conn, int(text)) if text.isdigit() else None
    if m is None or m.aanpak_id != ctx.row.id:
        raise NotFound(f"{ctx.row.name} has no measurement #{text} (`wijkflow history {ctx.row.slug}` "
                       "shows each measurement's number).")
    if m.withdrawn_at is not None:
        raise InvalidInput(f"Measurement #{m.id} of {ctx.row.name} was withdrawn already; nothing to change.")
    return m


def correct_measurement(app: App, ref: str, measurement_id: Any, value: Any, *, reason: str | None,
                        acting: str | None) -> dict[str, Any]:
    text = _reason(reason)
    number = _number(value, "value")
    if number is None:
        raise InvalidInput("A correction needs the right value.")
    now = app.now()
    with app.db.write() as conn:
        who = actor(conn, acting)
        ctx = load_open(conn, ref, app.definitions)
        ctx.require_any(who, ("projectleider", "coordinator"), "correct measurements")
        m = _measurement(conn, ctx, measurement_id)
        if m.value == number:
            raise InvalidInput(f"Measurement #{m.id} is {number:g} already; nothing to correct.")
        store.correct_measurement(conn, m.id, number)
        store.touch_aanpak(conn, ctx.row.id, now)
        corrects = store.event_of(conn, ctx.row.id, "measurement_recorded", m.at)
        store.append_event(conn, at=now, type="measurement_corrected", aanpak_id=ctx.row.id, actor_id=who.id,
                           reason=text, payload={"indicator": m.key, "label": m.label, "measurement_id": m.id,
                                                 "old": m.value, "value": number, "date": m.measured_on.isoformat(),
                                                 "corrects": corrects})
        notify.gate_changed(conn, app, aanpak_id=ctx.row.id, definition=ctx.definition, now=now)
    return {"aanpak": ctx.row.slug, "measurement_id": m.id, "indicator": m.key, "old": m.value, "value": number,
            "date": m.measured_on.isoformat(), "corrects": corrects, "reason": text}


def withdraw_measurement(app: App, ref: str, measurement_id: Any, *, reason: str | None,
                         acting: str | None) -> dict[str, Any]:
    text = _reason(reason)
    now = app.now()
    with app.db.write() as conn:
        who = actor(conn, acting)
        ctx = load_open(conn, ref, app.definitions)
        ctx.require_any(who, ("projectleider", "coordinator"), "withdraw measurements")
        m = _measurement(conn, ctx, measurement_id)
        store.withdraw_measurement(conn, m.id, now)
        store.touch_aanpak(conn, ctx.row.id, now)
        corrects = store.event_of(conn, ctx.row.id, "measurement_recorded", m.at)
        store.append_event(conn, at=now, type="measurement_withdrawn", aanpak_id=ctx.row.id, actor_id=who.id,
                           reason=text, payload={"indicator": m.key, "label": m.label, "measurement_id": m.id,
                                                 "value": m.value, "date": m.measured_on.isoformat(),
                                                 "corrects": corrects})
        notify.gate_changed(conn, app, aanpak_id=ctx.row.id, definition=ctx.definition, now=now)
    return {"aanpak": ctx.row.slug, "measurement_id": m.id, "indicator": m.key, "value": m.value,
            "date": m.measured_on.isoformat(), "withdrawn": True, "corrects": corrects, "reason": text}


def unassign_role(app: App, ref: str, email: str, *, role: str, reason: str | None = None,
                  acting: str | None) -> dict[str, Any]:
    if role not in ROLES:
        raise InvalidInput(f"Role '{role}' does not exist; use one of {', '.join(ROLES)}.")
    text = clean_text(reason, "reason", multiline=True)
    now = app.now()
    with app.db.write() as conn:
        who = actor(conn, acting)
        ctx = load_open(conn, ref, app.definitions)
        _may(ctx, who, "projectleider", "end roles")
        target = person(conn, email)
        if target.id not in ctx.holders(role):
            raise InvalidInput(f"{target.email} is not {role} of {ctx.row.name}, so there is nothing to end.")
        if role == "projectleider" and ctx.holders(role) == {target.id}:
            raise InvalidInput(f"{target.email} is the only projectleider of {ctx.row.name}; assign another "
                               "one first (`wijkflow assign REF EMAIL --role projectleider`).")
        store.remove_role(conn, ctx.row.id, target.id, role)
        store.append_event(conn, at=now, type="role_unassigned", aanpak_id=ctx.row.id, actor_id=who.id,
                           reason=text, payload={"person_id": target.id, "role": role})
    return {"aanpak": ctx.row.slug, "email": target.email, "role": role, "ended": True}


def rename(app: App, ref: str, name: str, *, reason: str | None = None, acting: str | None) -> dict[str, Any]:
    """A new name; the slug (and so every script's REF) stays the same."""
    new = clean_name(name)
    text = clean_text(reason, "reason", multiline=True)
    now = app.now()
    with app.db.write() as conn:
        who = actor(conn, acting)
        ctx = load_open(conn, ref, app.definitions)
        _may(ctx, who, "projectleider", "rename it")
        old = ctx.row.name
        if new == old:
            raise InvalidInput(f"The wijkaanpak is called {old} already; nothing to change.")
        store.rename_aanpak(conn, ctx.row.id, new, now)
        store.append_event(conn, at=now, type="aanpak_renamed", aanpak_id=ctx.row.id, actor_id=who.id, reason=text,
                           payload={"old_name": old, "new_name": new})
    return {"aanpak": ctx.row.slug, "old_name": old, "name": new}
