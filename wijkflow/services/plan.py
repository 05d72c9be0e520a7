"""The wijkontwikkelingsplan (Geldrop-Mierlo): an analysis and an uitvoeringsagenda.

The analysis lists strong points and knelpunten; the agenda lists activities, each with
the partner responsible, the year it is planned for, and a status. Partners are those
the definition names (on its `agenda` criteria) plus those named on the aanpak.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from .. import gates, store
from ..app import App
from ..errors import Conflict, InvalidInput, NotFound
from ..reminders import notify
from .common import Context, actor, clean_name, load, load_open

# status key -> Dutch label; the Dutch words are accepted as input too.
STATUSES = {"planned": "gepland", "running": "lopend", "done": "gereed", "dropped": "vervallen"}


def _editor(conn: sa.Connection, app: App, ref: str, acting: str | None, doing: str) -> tuple[Any, Context]:
    who = actor(conn, acting)
    ctx = load_open(conn, ref, app.definitions)
    ctx.require_any(who, ("projectleider", "coordinator"), doing)
    return who, ctx


def known_partners(conn: sa.Connection, ctx: Context) -> dict[str, str]:
    """casefolded name -> name as first written, definition first."""
    return gates.known_partners(conn, ctx.row.id, ctx.definition)


def _status(value: str) -> str:
    v = (value or "").strip().lower()
    for key, label in STATUSES.items():
        if v in (key, label):
            return key
    raise InvalidInput(f"Status '{value}' does not exist; use one of "
                       + ", ".join(f"{k} ({label})" for k, label in STATUSES.items()) + ".")


def _year(value: Any) -> int:
    text = str(value).strip()
    if not text.isdigit() or not 2000 <= int(text) <= 2100:
        raise InvalidInput(f"'{value}' is not a planned year; use a year such as 2027.")
    return int(text)


def _partner(conn: sa.Connection, ctx: Context, name: str) -> str:
    name = clean_name(name, "partner")
    known = known_partners(conn, ctx)
    found = known.get(name.casefold())
    if found is None:
        listed = ", ".join(known.values()) or "none yet"
        raise NotFound(f"'{name}' is not a partner of {ctx.row.name} (partners: {listed}); "
                       f"add it first with `wijkflow plan partner {ctx.row.slug} \"{name}\"`.")
    return found


def add_analysis(app: App, ref: str, *, strengths: tuple[str, ...] = (), bottlenecks: tuple[str, ...] = (),
                 acting: str | None) -> dict[str, Any]:
    points = [("strength", clean_name(t, "strong point")) for t in strengths]
    points += [("bottleneck", clean_name(t, "knelpunt")) for t in bottlenecks]
    if not points:
        raise InvalidInput("Give at least one --strong or --bottleneck point.")
    now = app.now()
    with app.db.write() as conn:
        who, ctx = _editor(conn, app, ref, acting, "edit its plan")
        for kind, text in points:
            pid = store.insert_plan_point(conn, aanpak_id=ctx.row.id, kind=kind, text=text, person_id=who.id, at=now)
            store.append_event(conn, at=now, type="plan_point_added", aanpak_id=ctx.row.id, actor_id=who.id,
                               payload={"point_id": pid, "kind": kind, "text": text})
            notify.gate_changed(conn, app, aanpak_id=ctx.row.id, definition=ctx.definition, now=now)
        store.touch_aanpak(conn, ctx.row.id, now)
    return {"aanpak": ctx.row.slug, "added": [{"kind": k, "text": t} for k, t in points]}


def add_partner(app: App, ref: str, name: str, *, acting: str | None) -> dict[str, Any]:
    name = clean_name(name, "partner")
    now = app.now()
    with app.db.write() as conn:
        who, ctx = _editor(conn, app, ref, acting, "edit its plan")
        existing = known_partners(conn, ctx).get(name.casefold())
        if existing is not None:
            raise Conflict(f"{existing} is already a partner of {ctx.row.name}; nothing was changed.")
        store.insert_plan_partner(conn, aanpak_id=ctx.row.id, key=name.casefold(), name=name, at=now)
        store.append_event(conn, at=now, type="plan_partner_added", aanpak_id=ctx.row.id, actor_id=who.id,
                           payload={"partner": name})
        notify.gate_changed(conn, app, aanpak_id=ctx.row.id, definition=ctx.definition, now=now)
    return {"aanpak": ctx.row.slug, "partner": name}


def add_activity(app: App, ref: str, title: str, *, partner: str, year: Any, status: str = "planned",
                 acting: str | None) -> dict[str, Any]:
    title = clean_name(title, "activity")
    status_key = _status(status)
    planned = _year(year)
    now = app.now()
    with app.db.write() as conn:
        who, ctx = _editor(conn, app, ref, acting, "edit its plan")
        name = _partner(conn, ctx, partner)
        number = store.insert_activity(conn, aanpak_id=ctx.row.id, title=title, partner=name, year=planned,
                                       status=status_key, person_id=who.id, created_at=now, updated_at=now)
        store.touch_aanpak(conn, ctx.row.id, now)
        store.append_event(conn, at=now, type="activity_added", aanpak_id=ctx.row.id, actor_id=who.id,
                           payload={"number": number, "title": title, "partner": name, "year": planned,
                                    "status": status_key})
        notify.gate_changed(conn, app, aanpak_id=ctx.row.id, definition=ctx.definition, now=now)
    return {"aanpak": ctx.row.slug, "number": number, "title": title, "partner": name, "year": planned,
            "status": status_key, "status_label": STATUSES[status_key]}


def update_activity(app: App, ref: str, number: Any, *, status: str | None = None, year: Any = None,
                    partner: str | None = None, acting: str | None) -> dict[str, Any]:
    if not str(number).strip().lstrip("#").isdigit():
        raise InvalidInput(f"'{number}' is not an activity number (see `wijkflow plan show`).")
    num = int(str(number).strip().lstrip("#"))
    changes: dict[str, Any] = {}
    if status is not None:
        changes["status"] = _status(status)
    if year is not None:
        changes["year"] = _year(year)
    if partner is None and not changes:
        raise InvalidInput("Say what changes: --status, --year and/or --partner.")
    now = app.now()
    with app.db.write() as conn:
        who, ctx = _editor(conn, app, ref, acting, "edit its plan")
        row = store.activity(conn, ctx.row.id, num)
        if row is None:
            raise NotFound(f"{ctx.row.name} has no activity #{num} (see `wijkflow plan show {ctx.row.slug}`).")
        if partner is not None:
            changes["partner"] = _partner(conn, ctx, partner)
        before = {k: getattr(row, k) for k in changes}
        store.update_activity(conn, row.id, updated_at=now, **changes)
        store.touch_aanpak(conn, ctx.row.id, now)
        store.append_event(conn, at=now, type="activity_updated", aanpak_id=ctx.row.id, actor_id=who.id,
                           payload={"number": num, "before": before, "after": changes})
        notify.gate_changed(conn, app, aanpak_id=ctx.row.id, definition=ctx.definition, now=now)
    merged = {"title": row.title, "partner": row.partner, "year": row.year, "status": row.status, **changes}
    return {"aanpak": ctx.row.slug, "number": num, **merged, "status_label": STATUSES[merged["status"]],
            "changed": sorted(changes)}


def plan_view(app: App, ref: str) -> dict[str, Any]:
    with app.db.read() as conn:
        ctx = load(conn, ref, app.definitions)
        points = store.plan_points(conn, ctx.row.id)
        acts = store.activities(conn, ctx.row.id)
        from_definition = {p.casefold() for p in gates.definition_partners(ctx.definition)}
        partners = list(known_partners(conn, ctx).values())
    counts = {p.casefold(): 0 for p in partners}
    for a in acts:
        if a.status != "dropped" and a.partner.casefold() in counts:
            counts[a.partner.casefold()] += 1
    return {
        "aanpak": ctx.row.slug, "name": ctx.row.name,
        "strengths": [p.text for p in points if p.kind == "strength"],
        "bottlenecks": [p.text for p in points if p.kind == "bottleneck"],
        "partners": [{"name": p, "named_in": "definition" if p.casefold() in from_definition else "aanpak",
                      "activities": counts[p.casefold()]} for p in partners],
        "activities": [{"number": a.number, "title": a.title, "partner": a.partner, "year": a.year,
                        "status": a.status, "status_label": STATUSES.get(a.status, a.status)} for a in acts],
    }

