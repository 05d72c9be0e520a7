"""Creating wijkaanpakken, giving people roles on them, and looking at them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from .. import engine, gates, store
from ..app import App
from ..archief import dossier
from ..areas import Areas, check_gemeente_name, clean_any
from ..definitions import ROLES
from ..errors import InvalidInput, NotFound
from ..reminders import notify
from ..reminders import schedule as reminder_schedule
from . import filters
from .common import (
    STATUS_LABELS,
    Context,
    actor,
    clean_name,
    clean_text,
    facts,
    load,
    load_open,
    local_iso,
    local_midnight_utc,
    parse_date,
    person,
    person_ref,
    slugify,
)
from .themes import check_theme_filter


def create_aanpak(app: App, name: str, *, wijk: str, leader: str, acting: str | None,
                  gemeente: str | None = None, workflow: str = "wijkaanpak",
                  coordinators: tuple[str, ...] = (), approvers: tuple[str, ...] = (),
                  phase: str | None = None, since: str | None = None,
                  areas: Areas | None = None) -> dict[str, Any]:
    return _create_aanpak(app, name, wijk=wijk, leader=leader, acting=acting, gemeente=gemeente,
                          workflow=workflow, coordinators=coordinators, approvers=approvers, phase=phase,
                          since=since, conn=None, areas=areas)


def create_aanpak_in(conn: Any, app: App, name: str, *, wijk: str, leader: str, acting: str | None,
                     gemeente: str | None = None, workflow: str = "wijkaanpak",
                     coordinators: tuple[str, ...] = (), approvers: tuple[str, ...] = (),
                     phase: str | None = None, since: str | None = None,
                     external_ref: str | None = None, areas: Areas | None = None) -> dict[str, Any]:
    """create_aanpak inside the caller's transaction (`wijkflow import` creates many in one)."""
    return _create_aanpak(app, name, wijk=wijk, leader=leader, acting=acting, gemeente=gemeente,
                          workflow=workflow, coordinators=coordinators, approvers=approvers, phase=phase,
                          since=since, conn=conn, external_ref=external_ref, areas=areas)


@contextmanager
def _within(app: App, conn: Any) -> Iterator[Any]:
    """The caller's transaction when there is one, else a new one."""
    if conn is not None:
        yield conn
    else:
        with app.db.write() as new:
            yield new


def _create_aanpak(app: App, name: str, *, wijk: str, leader: str, acting: str | None, gemeente: str | None,
                   workflow: str, coordinators: tuple[str, ...], approvers: tuple[str, ...],
                   phase: str | None, since: str | None, conn: Any,
                   external_ref: str | None = None, areas: Areas | None = None) -> dict[str, Any]:
    name = clean_name(name)
    wijk = clean_name(wijk, "wijk")
    areas = areas or Areas()
    gemeente = check_gemeente_name(areas, clean_text(gemeente, "gemeente", max_len=200)) or ""
    definition = app.registry.get(workflow)
    now = app.now()
    if (phase is None) != (since is None) and phase is not None:
        raise InvalidInput("--phase needs --since DATE: the day the running programme entered that phase.")
    start_phase = phase or definition.initial_phase
    if definition.phase(start_phase) is None:
        raise NotFound(f"Workflow {definition.ref} has no phase '{start_phase}' "
                       f"(phases: {', '.join(p.key for p in definition.phases)}).")
    if definition.is_final(start_phase):
        raise InvalidInput(f"A wijkaanpak cannot start in the final phase '{start_phase}'.")
    phase_since = now
    if since is not None:
        day = parse_date(since, "--since date")
        phase_since = local_midnight_utc(day, app.tz)
        if phase_since > now:
            raise InvalidInput(f"--since {day} lies in the future.")
    with _within(app, conn) as conn:
        who = actor(conn, acting)
        people = {"projectleider": [person(conn, leader, "projectleider")],
                  "coordinator": [person(conn, e, "coordinator") for e in coordinators],
                  "approver": [person(conn, e, "approver") for e in approvers]}
        def_id = store.pin_definition(conn, definition, now)
        base = slugify(name)
        slug, n = base, 2
        while store.slug_taken(conn, slug):
            slug, n = f"{base}-{n}", n + 1
        aanpak_id = store.insert_aanpak(
            conn, slug=slug, name=name, wijk=wijk, gemeente=gemeente, definition_id=def_id,
            phase=start_phase, phase_since=phase_since, visit=1, version=1, created_at=now, updated_at=now,
            external_ref=external_ref)
        payload: dict[str, Any] = {"name": name, "wijk": wijk, "gemeente": gemeente, "slug": slug,
                                   "workflow": definition.name, "workflow_version": definition.version,
                                   "workflow_hash": definition.content_hash()}
        if since is not None:
            payload["imported_since"] = since
        if external_ref is not None:
            payload["ref"] = external_ref
        if areas:
            store.set_area_codes(conn, aanpak_id, areas.codes())
            payload["areas"] = areas.codes()
        store.append_event(conn, at=now, type="aanpak_created", aanpak_id=aanpak_id, actor_id=who.id,
                           to_phase=start_phase, payload=payload)
        reminder_schedule.on_phase_entered(conn, app, aanpak_id=aanpak_id, definition=definition,
                                           phase=start_phase, visit=1, since=phase_since, now=now)
        for role, holders in people.items():
            for p in holders:
                if store.add_role(conn, aanpak_id, p.id, role):
                    store.append_event(conn, at=now, type="role_assigned", aanpak_id=aanpak_id,
                                       actor_id=who.id, payload={"person_id": p.id, "role": role})
        notify.gate_changed(conn, app, aanpak_id=aanpak_id, definition=definition, now=now)
    return {"id": aanpak_id, "slug": slug, "name": name, "phase": start_phase,
            "phase_label": definition.phase_label(start_phase), "workflow": definition.ref}


def assign_role(app: App, ref: str, email: str, *, role: str, acting: str | None) -> dict[str, Any]:
    if role not in ROLES:
        raise InvalidInput(f"Role '{role}' does not exist; use one of {', '.join(ROLES)}.")
    now = app.now()
    with app.db.write() as conn:
        who = actor(conn, acting)
        ctx = load_open(conn, ref, app.definitions)
        if who.role != "admin":
            ctx.require_role(who, "projectleider", "assign roles")
        target = person(conn, email)
        added = store.add_role(conn, ctx.row.id, target.id, role)
        if added:
            store.append_event(conn, at=now, type="role_assigned", aanpak_id=ctx.row.id, actor_id=who.id,
                               payload={"person_id": target.id, "role": role})
    return {"aanpak": ctx.row.slug, "email": target.email, "role": role, "changed": added}


def _days(since: datetime, now: datetime) -> int:
    """Days in phase: calendar days (Europe/Amsterdam), the same count `min_days` uses."""
    return gates.calendar_days(since, now)


def list_aanpakken(app: App, *, phase: str | None = None, wijk: str | None = None,
                   gemeente: str | None = None, stalled: bool = False,
                   theme: str | None = None, area: str | None = None) -> list[dict[str, Any]]:
    return list(iter_aanpakken(app, phase=phase, wijk=wijk, gemeente=gemeente, stalled=stalled, theme=theme,
                               area=area))


def count_aanpakken(app: App, *, phase: str | None = None, wijk: str | None = None,
                    gemeente: str | None = None, area: str | None = None) -> int:
    """How many rows `list` reads (before --stalled / --theme): the length of its progress bar."""
    with app.db.read() as conn:
        phase = filters.resolve(conn, app.definitions, phase=phase, wijk=wijk, gemeente=gemeente)
        return store.count_aanpakken(conn, phase=phase, wijk=wijk, gemeente=gemeente,
                                     area=clean_any(area) if area else None)


def iter_aanpakken(app: App, *, phase: str | None = None, wijk: str | None = None,
                   gemeente: str | None = None, stalled: bool = False,
                   theme: str | None = None, area: str | None = None) -> Iterator[dict[str, Any]]:
    """list_aanpakken one row at a time, streamed from the database (for portfolios of any size).
    `area`: only aanpakken whose CBS codes lie in that code or contain it."""
    theme_key = check_theme_filter(theme)
    area = clean_any(area) if area else None
    now = app.now()
    with app.db.read() as conn:
        # A phase by key or Dutch label; an unknown phase, wijk or gemeente is refused with the choices.
        phase = filters.resolve(conn, app.definitions, phase=phase, wijk=wijk, gemeente=gemeente)
        with_theme = store.aanpak_ids_with_theme(conn, theme_key) if theme_key else None
        codes = store.all_area_codes(conn)
        for row in store.stream_aanpakken(conn, phase=phase, wijk=wijk, gemeente=gemeente, area=area):
            if with_theme is not None and row.id not in with_theme:
                continue
            d = store.definition(conn, app.definitions, row.definition_id)
            p = d.phase(row.phase)
            days = _days(row.phase_since, now)
            is_stalled = bool(p and p.max_days and days > p.max_days)
            if stalled and not is_stalled:
                continue
            yield {"id": row.id, "slug": row.slug, "name": row.name, "wijk": row.wijk,
                   "gemeente": row.gemeente, "areas": codes.get(row.id, []), "workflow": d.ref, "phase": row.phase,
                   "phase_label": d.phase_label(row.phase), "days_in_phase": days,
                   "stalled": is_stalled, "status": row.status}


def gate_view(ctx: Context, result: gates.GateResult, people: dict[int, Any], app: App,
              locale: str = "en") -> dict[str, Any]:
    """A gate as people and scripts read it; each criterion's reason (`why`) in `locale`."""
    t = result.transition
    tz = app.tz
    return {
        "from": t.source, "to": t.dest, "label": t.label,
        "to_label": ctx.definition.phase_label(t.dest),
        "passed": result.passed,
        "criteria": [{
            "key": c.key, "label": c.label, "kind": c.kind, "optional": c.optional, "met": c.met,
            "why": c.why_in(locale), "by": person_ref(people, c.person_id), "at": local_iso(c.at, tz),
            "evidence": c.evidence, "comment": c.comment,
        } for c in result.criteria],
    }


def show_aanpak(app: App, ref: str, *, locale: str = "en") -> dict[str, Any]:
    now = app.now()
    with app.db.read() as conn:
        ctx = load(conn, ref, app.definitions)
        f = facts(conn, ctx)
        d, row = ctx.definition, ctx.row
        results = [gates.evaluate(d, t, f, now) for t in d.outgoing(row.phase)]
        ids = {r.person_id for r in ctx.roles} | {c.person_id for g in results for c in g.criteria}
        people = store.people_by_id(conn, ids)
        deadlines = store.deadlines(conn, row.id)
        inds = store.indicators(conn, row.id)
        vacated = store.ended_roles(conn, row.id)
        areas = Areas.from_codes(store.area_codes(conn, row.id))
    p = d.phase(row.phase)
    days = _days(row.phase_since, now)
    return {
        "id": row.id, "slug": row.slug, "name": row.name, "wijk": row.wijk, "gemeente": row.gemeente,
        "areas": areas.as_dict(),
        "workflow": {"name": d.name, "version": d.version, "label": d.label},
        "phase": row.phase, "phase_label": d.phase_label(row.phase),
        "status": row.status, "status_label": STATUS_LABELS[row.status],
        "phase_since": local_iso(row.phase_since, app.tz), "days_in_phase": days,
        "stalled": bool(p and p.max_days and days > p.max_days),
        "people": [{"role": r.role, **(person_ref(people, r.person_id) or {})} for r in ctx.roles]
        + [{"role": role, "id": None, "email": None, "name": None, "vacant": True}
           for role in ROLES if role in vacated and not ctx.holders(role)],
        "gates": [gate_view(ctx, g, people, app, locale) for g in results],
        "deadlines": {k: v.isoformat() for k, v in sorted(deadlines.items())},
        "indicators": [i.key for i in inds],
        "archief": dossier(d, closed_on=row.phase_since.astimezone(app.tz).date() if d.is_final(row.phase)
                           else None),
    }


def gate_status(app: App, ref: str, *, to: str | None = None) -> dict[str, Any]:
    now = app.now()
    with app.db.read() as conn:
        ctx = load(conn, ref, app.definitions)
        transition = engine.choose_transition(ctx.definition, ctx.row.phase, to)
        result = gates.evaluate(ctx.definition, transition, facts(conn, ctx), now)
        people = store.people_by_id(conn, {c.person_id for c in result.criteria})
    view = gate_view(ctx, result, people, app)
    return {"aanpak": ctx.row.slug, "name": ctx.row.name, "phase": ctx.row.phase,
            "phase_label": ctx.definition.phase_label(ctx.row.phase), **view}


