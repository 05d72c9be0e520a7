"""Pausing, stopping and reopening a wijkaanpak: opschorten, stopzetten, heropenen.

- `suspend` (opgeschort): the programme pauses; its reminders are held (none goes out while it
  is suspended; those that fell due go out once when it resumes). Work may still be recorded.
  Time in phase and `min_days` keep counting: a pause does not stop the calendar.
- `stop` (stopgezet, e.g. by the council): final, distinct from a completed `closed`; the phase
  stays what it was (so the phase is still the latest phase change's destination), pending
  reminders are cancelled, and every change is refused from then on.
- `reopen` (administrators): a stopped aanpak becomes active again in its phase; a closed one goes
  back to the phase it left, as a new visit of that phase (its gate must be met again).

Each is its own audited event with the reason.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from .. import store
from ..app import App
from ..errors import InvalidInput, NotAllowed
from ..reminders import schedule as reminder_schedule
from .common import STATUS_LABELS, Context, actor, clean_text, ended, load


def _reason(reason: str | None, doing: str) -> str:
    text = clean_text(reason, "reason", multiline=True)
    if not text:
        raise InvalidInput(f"{doing} needs a --reason: it is recorded in the history.")
    return text


def _lead_or_admin(ctx: Context, who: Any, doing: str) -> None:
    if who.role != "admin":
        ctx.require_role(who, "projectleider", doing)


def _open(conn: sa.Connection, app: App, ref: str, acting: str | None) -> tuple[Any, Context]:
    who = actor(conn, acting)
    ctx = load(conn, ref, app.definitions)
    ctx.require_open()
    return who, ctx


def _outcome(ctx: Context, status: str, **extra: Any) -> dict[str, Any]:
    return {"aanpak": ctx.row.slug, "name": ctx.row.name, "phase": ctx.row.phase,
            "phase_label": ctx.definition.phase_label(ctx.row.phase), "status": status,
            "status_label": STATUS_LABELS[status], **extra}


def suspend(app: App, ref: str, *, reason: str | None, acting: str | None) -> dict[str, Any]:
    text = _reason(reason, "Suspending")
    now = app.now()
    with app.db.write() as conn:
        who, ctx = _open(conn, app, ref, acting)
        _lead_or_admin(ctx, who, "suspend it")
        if ctx.row.status == "suspended":
            raise InvalidInput(f"{ctx.row.name} is already suspended ({STATUS_LABELS['suspended']}); "
                               f"`wijkflow resume {ctx.row.slug}` ends the pause.")
        store.set_status(conn, ctx.row.id, "suspended", now)
        store.append_event(conn, at=now, type="aanpak_suspended", aanpak_id=ctx.row.id, actor_id=who.id,
                           from_phase=ctx.row.phase, reason=text, payload={"status": "suspended"})
    return _outcome(ctx, "suspended", reason=text)


def resume(app: App, ref: str, *, reason: str | None = None, acting: str | None) -> dict[str, Any]:
    text = clean_text(reason, "reason", multiline=True)
    now = app.now()
    with app.db.write() as conn:
        who, ctx = _open(conn, app, ref, acting)
        _lead_or_admin(ctx, who, "resume it")
        if ctx.row.status != "suspended":
            raise InvalidInput(f"{ctx.row.name} is not suspended, so there is nothing to resume.")
        store.set_status(conn, ctx.row.id, "active", now)
        store.append_event(conn, at=now, type="aanpak_resumed", aanpak_id=ctx.row.id, actor_id=who.id,
                           from_phase=ctx.row.phase, reason=text, payload={"status": "active"})
    return _outcome(ctx, "active", reason=text)


def stop(app: App, ref: str, *, reason: str | None, acting: str | None) -> dict[str, Any]:
    text = _reason(reason, "Stopping")
    now = app.now()
    with app.db.write() as conn:
        who, ctx = _open(conn, app, ref, acting)
        _lead_or_admin(ctx, who, "stop it")
        cancelled = store.cancel_reminders(conn, ctx.row.id, reason="stopped", now=now)
        store.set_status(conn, ctx.row.id, "stopped", now)
        store.append_event(conn, at=now, type="aanpak_stopped", aanpak_id=ctx.row.id, actor_id=who.id,
                           from_phase=ctx.row.phase, reason=text,
                           payload={"status": "stopped", "was": ctx.row.status, "reminders_cancelled": cancelled})
    return _outcome(ctx, "stopped", reason=text, reminders_cancelled=cancelled)


def reopen(app: App, ref: str, *, reason: str | None, acting: str | None) -> dict[str, Any]:
    text = _reason(reason, "Reopening")
    now = app.now()
    with app.db.write() as conn:
        who = actor(conn, acting)
        ctx = load(conn, ref, app.definitions)
        if who.role != "admin":
            raise NotAllowed(f"Only an administrator may reopen a wijkaanpak; {who.email} is not one.")
        state = ended(ctx.row, ctx.definition)
        if state is None:
            raise InvalidInput(f"{ctx.row.name} is neither closed nor stopped, so there is nothing to reopen.")
        row = ctx.row
        if state == "stopped":
            store.set_status(conn, row.id, "active", now)
            store.append_event(conn, at=now, type="aanpak_reopened", aanpak_id=row.id, actor_id=who.id,
                               from_phase=row.phase, reason=text, payload={"was": "stopped", "visit": row.visit})
            return _outcome(ctx, "active", reason=text, was="stopped")
        back = store.phase_left(conn, row.id)
        if back is None or ctx.definition.phase(back) is None or ctx.definition.is_final(back):
            raise InvalidInput(f"The history of {row.name} does not say which phase it left, so it cannot "
                               "be reopened; an administrator can look with `wijkflow history`.")
        store.reenter_phase(conn, row.id, back, now)
        reminder_schedule.on_phase_entered(conn, app, aanpak_id=row.id, definition=ctx.definition, phase=back,
                                           visit=row.visit + 1, since=now, now=now)
        # to_phase: the phase is set by this event (the latest phase-setting event's destination).
        store.append_event(conn, at=now, type="aanpak_reopened", aanpak_id=row.id, actor_id=who.id,
                           from_phase=row.phase, to_phase=back, reason=text,
                           payload={"was": "closed", "visit": row.visit + 1})
    return {"aanpak": row.slug, "name": row.name, "phase": back, "phase_label": ctx.definition.phase_label(back),
            "status": "active", "status_label": STATUS_LABELS["active"], "reason": text, "was": "closed",
            "from": row.phase, "from_label": ctx.definition.phase_label(row.phase)}
