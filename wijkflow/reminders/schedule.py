"""Reminder occurrences kept in step with the aanpak, inside the caller's transaction.

The services call exactly one hook per change:

    create_aanpak  -> on_phase_entered   (an imported aanpak catches up: what fell due is due now)
    advance        -> on_phase_changed   (leaving cancels, with the reason; entering schedules)
    set_deadline   -> on_deadline_set    (the old deadline's reminders cancelled, new ones scheduled)

Nothing here reads the clock: `now` comes from the service.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from .. import store
from ..definitions import Definition, ReminderRule
from .calendar import Span, WorkCalendar

# How far ahead an every-rule is searched for its next period; a guard, never reached in practice.
_MAX_PERIODS = 10_000
PHASE_KINDS = ("after", "every", "stalled")
DEADLINE_KINDS = ("before", "overdue", "deadline_met")  # deadline_met: notify.py, the calendar entry withdrawn


def on_phase_entered(conn: sa.Connection, app: Any, *, aanpak_id: int, definition: Definition, phase: str,
                     visit: int, since: datetime, now: datetime) -> int:
    """Schedule the phase's reminders; returns how many were scheduled."""
    return _entered(conn, app.calendar, aanpak_id=aanpak_id, definition=definition, phase=phase, visit=visit,
                    since=since, now=now)


def _entered(conn: sa.Connection, cal: WorkCalendar, *, aanpak_id: int, definition: Definition, phase: str,
             visit: int, since: datetime, now: datetime) -> int:
    entry = cal.local_date(since)
    count = 0
    for rule in definition.reminders:
        if rule.kind in ("after", "every") and rule.phase != phase:
            continue
        if rule.kind == "stalled" and not _stalls(rule, definition, phase):
            continue
        if rule.kind == "after":
            count += insert_occurrence(conn, aanpak_id, rule, "after", cal.due_at(cal.add(entry, _span(rule.after))),
                             now, phase=phase, visit=visit, dedupe=f"v{visit}")
        elif rule.kind == "every":
            count += schedule_every(conn, cal, aanpak_id, rule, phase=phase, visit=visit, entry=entry,
                                    now=now, after_seq=None)
        elif rule.kind == "stalled":
            entered = definition.phase(phase)
            limit = (Span.parse(rule.stalled) if isinstance(rule.stalled, str)
                     else Span(days=(entered.max_days if entered else 0) or 0))
            count += insert_occurrence(conn, aanpak_id, rule, "stalled", cal.due_at(cal.add(entry, limit)), now,
                             phase=phase, visit=visit, dedupe=f"v{visit}")
    return count


def on_phase_changed(conn: sa.Connection, app: Any, *, aanpak_id: int, definition: Definition, old_phase: str,
                     old_visit: int, new_phase: str, since: datetime, now: datetime) -> int:
    """Cancel what belonged to the phase left behind, then schedule the new phase's reminders."""
    cal = app.calendar  # built once for both halves of the change
    left = f"left phase {old_phase} for {new_phase} on {cal.local_date(now).isoformat()}"
    store.cancel_reminders(conn, aanpak_id, reason=left, now=now, kinds=PHASE_KINDS, visit=old_visit)
    entered = definition.phase(new_phase)
    if entered is not None and entered.final:
        store.cancel_reminders(conn, aanpak_id, reason=f"the aanpak was closed ({new_phase})", now=now)
        return 0
    old_gate = definition.gate_keys_out_of(old_phase)
    new_gate = definition.gate_keys_out_of(new_phase)
    for criterion in sorted(old_gate - new_gate):
        store.cancel_reminders(conn, aanpak_id, reason=f"'{criterion}' is not on the gate of {new_phase}",
                               now=now, kinds=DEADLINE_KINDS, criterion=criterion)
    return _entered(conn, cal, aanpak_id=aanpak_id, definition=definition, phase=new_phase,
                    visit=old_visit + 1, since=since, now=now)


def on_deadline_set(conn: sa.Connection, app: Any, *, aanpak_id: int, definition: Definition, criterion: str,
                    due: date, previous: date | None, now: datetime, not_before: datetime | None = None) -> int:
    """Reschedule the deadline reminders of one criterion: before the deadline, and overdue after it.

    `not_before`: no "before" occurrence due earlier (a migration schedules nothing in the past as nadert).
    """
    cal = app.calendar
    if previous is not None and previous != due:
        store.cancel_reminders(conn, aanpak_id, reason=f"deadline moved from {previous} to {due}", now=now,
                               kinds=DEADLINE_KINDS, criterion=criterion)
    # Moving a deadline back to a date it had before schedules anew: the key names the move.
    moves = store.deadline_moves(conn, aanpak_id).get(criterion, 0) + (previous is not None and previous != due)
    key = deadline_key(criterion, due, moves)
    count = 0
    overdue_at = cal.due_at(cal.add(due, Span(days=1)))
    for rule in definition.reminders:
        if rule.kind != "before" or (rule.criteria and criterion not in rule.criteria):
            continue
        before_at = cal.due_at(cal.add(due, _span(rule.before), sign=-1))
        if before_at < overdue_at and not (overdue_at <= now) and (not_before is None or before_at >= not_before):
            count += insert_occurrence(conn, aanpak_id, rule, "before", before_at, now, criterion=criterion,
                                       deadline=due, dedupe=key)
        if rule.overdue:
            count += insert_occurrence(conn, aanpak_id, rule, "overdue", overdue_at, now, criterion=criterion,
                                       deadline=due, dedupe=key)
    return count


def deadline_key(criterion: str, due: date, moves: int) -> str:
    """What the occurrences of one deadline share in their dedupe key (the n-th move of it, if moved)."""
    return f"{criterion}:{due}" + (f":m{moves}" if moves else "")


def schedule_every(conn: sa.Connection, cal: WorkCalendar, aanpak_id: int, rule: ReminderRule, *, phase: str,
                   visit: int, entry: date, now: datetime, after_seq: int | None) -> int:
    """The next period of an every-rule, anchored to the phase entry.

    On entering (after_seq None) a period that already passed is due at once, but only the
    latest one: a programme imported months into its phase gets one catch-up, not three.
    After period k went out, the next is the first period after k that lies in the future.
    """
    span = _span(rule.every)
    k = (after_seq or 0) + 1
    due = cal.due_at(cal.add(entry, span.times(k)))
    for _ in range(_MAX_PERIODS):
        following = cal.due_at(cal.add(entry, span.times(k + 1)))
        if after_seq is None and following > now:
            break
        if after_seq is not None and due > now:
            break
        k, due = k + 1, following
    return insert_occurrence(conn, aanpak_id, rule, "every", due, now, phase=phase, visit=visit, seq=k,
                   dedupe=f"v{visit}:{k}")


def _span(value: str | None) -> Span:
    assert value is not None, "a rule's kind names the duration it has"
    return Span.parse(value)


def _stalls(rule: ReminderRule, definition: Definition, phase: str) -> bool:
    p = definition.phase(phase)
    if p is None or p.final:
        return False
    if rule.phase is not None:
        return rule.phase == phase
    return isinstance(rule.stalled, str) or bool(p.max_days)


def insert_occurrence(conn: sa.Connection, aanpak_id: int, rule: ReminderRule, kind: str, due_at: datetime,
                      now: datetime, *, dedupe: str, phase: str | None = None, visit: int | None = None,
                      criterion: str | None = None, deadline: date | None = None, seq: int = 0) -> int:
    """One occurrence (timed, or an event's: see notify.py); 0 when the same one is already there."""
    new = store.insert_reminder(
        conn, aanpak_id=aanpak_id, rule=rule.key, kind=kind, phase=phase, visit=visit, criterion=criterion,
        deadline=deadline, seq=seq, dedupe=f"{aanpak_id}:{rule.key}:{kind}:{dedupe}", due_at=due_at,
        status="pending", created_at=now, updated_at=now)
    return 0 if new is None else 1
