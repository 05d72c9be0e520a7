"""Event notifications: reminder rules with `on:` instead of a time.

    on: awaiting_approval   a gate out of the current phase waits only for approvals or sign-offs
                            (and time): those who can give them hear it, once per visit of the phase
    on: gate_met            a gate is fully met: the projectleider may advance, once per visit
    on: phase_changed       the aanpak moved: where to, and why
    on: gate_overridden     an administrator passed an unmet gate
    on: approval_withdrawn  an approval was taken back (the hook `on_approval_withdrawn`)

and, without a rule of its own, the withdrawal of a deadline's calendar entry once its criterion
is met (kind `deadline_met`, sent by the `before` rule that sent the entry, with METHOD:CANCEL).

Each becomes an occurrence in the same `reminder` table as the timed reminders (its `kind` is
the event; `criterion` the withdrawn criterion), in the
caller's transaction, so it goes through the same fan-out, outbox, Message-IDs, retries and
audit events. A gate that is only waiting for time (min_days) is scheduled for the moment the
time is up; the send-time check (fanout.why_not) looks at the gate again and cancels what no
longer holds, which frees its key for a later change in the same visit.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from .. import gates, store
from ..definitions import Definition, Transition
from .schedule import deadline_key, insert_occurrence

GATE_EVENTS = ("awaiting_approval", "gate_met")
MOVE_EVENTS = ("phase_changed", "gate_overridden")
EVENT_KINDS = GATE_EVENTS + MOVE_EVENTS + ("approval_withdrawn",)
APPROVAL_KINDS = frozenset({"approval", "parties"})


def gate_changed(conn: sa.Connection, app: Any, *, aanpak_id: int, definition: Definition, now: datetime) -> int:
    """After anything that can change a gate out of the current phase: schedule what it now warrants."""
    rules = [r for r in definition.reminders if r.on in GATE_EVENTS]
    # Calendar entries exist only where a `before` rule sent them: no query on a definition without one.
    calendars = store.calendars_sent(conn, aanpak_id) if any(r.kind == "before" for r in definition.reminders) else []
    if not rules and not calendars:
        return 0
    row = store.find_aanpak(conn, str(aanpak_id))
    facts = gates.load_facts(conn, row, definition)
    count = deadlines_met(conn, definition, row, facts, calendars, now) if calendars else 0
    for rule in rules:
        # The earliest moment any gate out of the phase warrants it: one message per visit, naming
        # every gate it holds for then (a phase with three ways out asks its approvers once).
        moments = [m for t in definition.outgoing(row.phase)
                   if (m := gate_moments(definition, t, facts, now).get(str(rule.on))) is not None]
        if moments:
            count += insert_occurrence(conn, aanpak_id, rule, str(rule.on), max(min(moments), now), now,
                                       phase=row.phase, visit=row.visit, dedupe=f"v{row.visit}")
    return count


def deadlines_met(conn: sa.Connection, definition: Definition, row: Any, facts: Any,
                  calendars: list[tuple[str, str, date]], now: datetime) -> int:
    """A deadline whose calendar entry went out and whose criterion is now met: withdraw the entry
    (METHOD:CANCEL), so nobody keeps a deadline in their calendar that no longer is one."""
    current = store.deadlines(conn, row.id)
    moves = store.deadline_moves(conn, row.id)
    met = {c.key for t in definition.outgoing(row.phase) for c in gates.evaluate(definition, t, facts, now).criteria
           if c.met}
    count = 0
    for rule_key, criterion, due in calendars:
        rule = definition.reminder(rule_key)
        if rule is None or criterion not in met or current.get(criterion) != due:
            continue
        count += insert_occurrence(conn, row.id, rule, "deadline_met", now, now, criterion=criterion, deadline=due,
                                   dedupe=deadline_key(criterion, due, moves.get(criterion, 0)))
    return count


def gate_moments(definition: Definition, t: Transition, facts: Any, now: datetime) -> dict[str, datetime]:
    """When each gate event holds for this gate if nothing else changes: now, when a minimum time
    in the phase is up, or not at all (left out)."""
    result = gates.evaluate(definition, t, facts, now)
    blocking = [c for c in result.criteria if c.blocking]
    waiting = [c for c in blocking if c.kind == "min_days"]
    ready = max([facts.phase_since + timedelta(days=getattr(definition.criteria[c.key], "days", 0))
                 for c in waiting], default=now)
    others = [c for c in blocking if c.kind != "min_days"]
    moments: dict[str, datetime] = {}
    if not others:
        moments["gate_met"] = ready
    elif all(c.kind in APPROVAL_KINDS for c in others):
        moments["awaiting_approval"] = ready
    return moments


def holds(definition: Definition, event: str, facts: Any, now: datetime) -> bool:
    """The send-time check of a gate event: does it still hold now, for some gate out of the phase?"""
    for t in definition.outgoing(facts.phase):
        at = gate_moments(definition, t, facts, now).get(event)
        if at is not None and at <= now:
            return True
    return False


def moved(conn: sa.Connection, app: Any, *, aanpak_id: int, definition: Definition, phase: str, visit: int,
          overridden: bool, now: datetime) -> int:
    """After a phase change (the engine's after-callback): tell the aanpak's people, and of an override."""
    count = 0
    for rule in definition.reminders:
        if rule.on == "phase_changed" or (rule.on == "gate_overridden" and overridden):
            count += insert_occurrence(conn, aanpak_id, rule, rule.on, now, now, phase=phase, visit=visit,
                                       dedupe=f"v{visit}")
    return count + gate_changed(conn, app, aanpak_id=aanpak_id, definition=definition, now=now)


def on_approval_withdrawn(conn: sa.Connection, app: Any, *, aanpak_id: int, definition: Definition,
                          criterion: str, phase: str, visit: int, now: datetime) -> int:
    """The hook for withdrawing an approval (issue 12): the projectleider and approvers hear it.

    Call it in the withdrawal's transaction, after the withdrawal is recorded."""
    count = 0
    for rule in definition.reminders:
        if rule.on == "approval_withdrawn":
            count += insert_occurrence(conn, aanpak_id, rule, "approval_withdrawn", now, now, phase=phase,
                                       visit=visit, criterion=criterion,
                                       dedupe=f"v{visit}:{criterion}:{int(now.timestamp())}")
    return count + gate_changed(conn, app, aanpak_id=aanpak_id, definition=definition, now=now)
