"""What waits for one person, across the aanpakken where they hold a role ("Mijn taken").

Read-only: gates are evaluated exactly as `gate` and `advance` evaluate them (gates.evaluate on
the same facts), and what may be done is decided by the same rules the writing services enforce
(the criterion's role, four-eyes, one signature per person), so the list offers nothing that
`approve`, `complete` or `advance` would refuse. The services still check for themselves.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from .. import gates, store
from ..app import App
from ..definitions import ApprovalCriterion, DeliverableCriterion, PartiesCriterion
from ..errors import NotFound
from .aanpak import gate_view
from .common import Context, ended, facts, load

# A deadline this many days away or fewer is "soon" (the default `before` of the deadline reminder is 7).
SOON_DAYS = 14


def open_actions(conn: sa.Connection, app: App, ctx: Context, person: Any, now: datetime,
                 locale: str = "nl") -> dict[str, Any]:
    """What `person` can do now on the aanpak `ctx`, and the gates this is decided on.

    approvals: approval criteria of a gate out of the current phase, not met, whose role the person
    holds, with the deliverable they approve completed by someone else (four-eyes).
    signoffs: party criteria not met, the person holds the role and has not signed for another party.
    deliverables: (projectleider) unmet deliverable criteria. advance: (projectleider) gates met.
    """
    d, row = ctx.definition, ctx.row
    held = {r.role for r in ctx.roles if r.person_id == person.id} if person is not None else set()
    out: dict[str, Any] = {"approvals": [], "signoffs": [], "deliverables": [], "advance": [], "gates": [],
                           "blocked": {}, "roles": sorted(held)}
    f = facts(conn, ctx)
    results = [gates.evaluate(d, t, f, now) for t in d.outgoing(row.phase)]
    out["gates"] = results
    # Why this person cannot act on a criterion: a code and its parameters, for the page to say in its language.
    stop = ("closed" if ended(row, d) is not None else "status" if row.status != "active"
            else "auditor" if person is not None and person.role == "auditor" else None)
    if stop is not None:
        out["blocked"] = {c.key: {"code": stop} for r in results for c in r.criteria}
        return out
    signed = None
    seen: set[str] = set()
    for result in results:
        if result.passed and "projectleider" in held and person is not None:
            out["advance"].append({"to": result.transition.dest, "to_label": d.phase_label(result.transition.dest),
                                   "label": result.transition.label})
        for c in result.criteria:
            if c.met or c.key in seen:
                continue
            seen.add(c.key)
            criterion = d.criteria[c.key]
            item = {"key": c.key, "label": c.label, "why": c.why_in(locale), "optional": c.optional}
            blocked = out["blocked"]
            if isinstance(criterion, DeliverableCriterion):
                if "projectleider" not in held:
                    blocked[c.key] = {"code": "role", "role": "projectleider"}
                    continue
                out["deliverables"].append({**item, "evidence_required": criterion.evidence_required})
            elif isinstance(criterion, ApprovalCriterion | PartiesCriterion) and criterion.role not in held:
                blocked[c.key] = {"code": "role", "role": criterion.role}
            elif isinstance(criterion, ApprovalCriterion):
                if criterion.approves is not None:
                    target = f.latest(criterion.approves, "completed")
                    approves_label = d.criteria[criterion.approves].label
                    if target is None:
                        blocked[c.key] = {"code": "not_completed", "label": approves_label}
                        continue
                    if target.person_id == person.id:  # their own deliverable: four-eyes
                        blocked[c.key] = {"code": "own", "label": approves_label, "role": criterion.role}
                        continue
                    item["approves"] = criterion.approves
                    item["approves_label"] = d.criteria[criterion.approves].label
                    item["evidence"] = target.evidence
                out["approvals"].append(item)
            elif isinstance(criterion, PartiesCriterion):
                if signed is None:
                    signed = list(store.party_approvals(conn, row.id, row.visit))
                done = [p for p in signed if p.criterion == c.key]
                if any(p.person_id == person.id for p in done):
                    blocked[c.key] = {"code": "signed"}  # each party by a different person
                    continue
                taken = {p.party for p in done}
                parties = [{"key": k, "label": v} for k, v in criterion.parties.items() if k not in taken]
                if parties:
                    out["signoffs"].append({**item, "parties": parties,
                                            "evidence_required": criterion.evidence_required})
    return out


def _deadline(due: date, today: date) -> str | None:
    if due < today:
        return "overdue"
    if due <= today + timedelta(days=SOON_DAYS):
        return "soon"
    return None


def my_tasks(app: App, email: str, *, locale: str = "nl") -> dict[str, Any]:
    """Everything waiting for `email`, per kind, each item naming its aanpak (slug, name, wijk)."""
    now = app.now()
    today = now.astimezone(app.tz).date()
    out: dict[str, Any] = {"approvals": [], "signoffs": [], "deliverables": [], "deadlines": [], "stalled": [],
                           "advance": [], "aanpakken": []}
    with app.db.read() as conn:
        me = store.person_by_email(conn, email)
        if me is None or me.forgotten_at is not None:
            raise NotFound(f"No person with email {email}.")
        ids: dict[int, list[str]] = {}
        for r in store.roles_of_person(conn, me.id):
            ids.setdefault(r.aanpak_id, []).append(r.role)
        for aanpak_id, my_roles in ids.items():
            ctx = load(conn, str(aanpak_id), app.definitions)
            d, row = ctx.definition, ctx.row
            about = {"slug": row.slug, "name": row.name, "wijk": row.wijk}
            days = gates.calendar_days(row.phase_since, now)
            phase = d.phase(row.phase)
            closed = ended(row, d)
            out["aanpakken"].append({**about, "phase": row.phase, "phase_label": d.phase_label(row.phase),
                                     "status": row.status, "closed": closed, "roles": my_roles,
                                     "days_in_phase": days})
            if closed is not None:
                continue
            acts = open_actions(conn, app, ctx, me, now, locale)
            for kind in ("approvals", "signoffs", "deliverables", "advance"):
                out[kind].extend({**about, **item} for item in acts[kind])
            if row.status == "active" and phase is not None and phase.max_days and days > phase.max_days:
                out["stalled"].append({**about, "phase_label": d.phase_label(row.phase), "days": days,
                                       "max_days": phase.max_days})
            unmet = {c.key: c.label for g in acts["gates"] for c in g.criteria if not c.met}
            for key, due in sorted(store.deadlines(conn, row.id).items(), key=lambda kv: kv[1]):
                state = _deadline(due, today)
                if key in unmet and state is not None:
                    out["deadlines"].append({**about, "key": key, "label": unmet[key], "due": due.isoformat(),
                                             "state": state, "days": (due - today).days})
    out["deadlines"].sort(key=lambda x: x["due"])
    out["count"] = sum(len(out[k]) for k in ("approvals", "signoffs", "deliverables", "deadlines", "stalled",
                                              "advance"))
    return out


def aanpak_actions(app: App, ref: str, email: str, *, locale: str = "nl") -> dict[str, Any]:
    """One aanpak as the forms need it: its name and phase, every gate out of the phase (as `gate` shows
    it, reasons in `locale`), what `email` can do now and why not where they cannot, the indicators."""
    now = app.now()
    with app.db.read() as conn:
        ctx = load(conn, ref, app.definitions)
        me = store.person_by_email(conn, email)
        acts = open_actions(conn, app, ctx, me, now, locale)
        people = store.people_by_id(conn, {c.person_id for g in acts["gates"] for c in g.criteria})
        inds = store.indicators(conn, ctx.row.id)
    d, row = ctx.definition, ctx.row
    acts["gates"] = [gate_view(ctx, g, people, app, locale) for g in acts["gates"]]
    return {"slug": row.slug, "name": row.name, "wijk": row.wijk, "phase": row.phase,
            "phase_label": d.phase_label(row.phase), "status": row.status, "closed": ended(row, d),
            "criteria": {k: {"label": c.label, "kind": c.kind} for k, c in d.criteria.items()},
            "indicators": [{"key": i.key, "label": i.label, "unit": i.unit} for i in inds],
            "may_measure": bool({"projectleider", "coordinator"} & set(acts["roles"]))
            and me is not None and me.role != "auditor" and ended(row, d) is None,
            **acts}


def aanpak_page(app: App, ref: str, email: str, *, locale: str = "nl") -> dict[str, Any]:
    """The web's aanpak page: what the report shows (reports.aanpak_data, reasons and history in
    `locale`) and what `email` can do on it now (aanpak_actions)."""
    from .reports import aanpak_data  # the report's module pulls in charts and templates: only pages need it

    data = aanpak_data(app, ref, locale=locale, chain=False)
    return {**data, "actions": aanpak_actions(app, ref, email, locale=locale)}
