"""Fan-out: due reminder occurrences become outbox messages, one per recipient.

In one write transaction per batch, every due occurrence is claimed with a conditional
UPDATE (pending -> queued; the rowcount says who won, so two sweeps never fan out the same
occurrence), checked once more against the aanpak as it is now (still in that visit of the
phase? criterion still open? deadline unchanged? anybody holding the role?) and then either
turned into one outbox message per recipient or cancelled with the reason. A repeating rule
schedules its next period here.

The dry run (`wijkflow reminders send --dry-run`) runs this very code in a transaction that
is rolled back, with `report` collecting what each occurrence came to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from .. import gates, store
from ..definitions import ReminderRule
from . import notify
from .render import message_id_for
from .schedule import DEADLINE_KINDS, PHASE_KINDS, schedule_every

BATCH = 200
_EVENT_STATES = {"awaiting_approval": "waits only for approvals", "gate_met": "is met"}  # notify.GATE_EVENTS


@dataclass
class Fanned:
    """What one due occurrence came to: its recipients (person id -> role), or why it was cancelled."""

    occurrence: Any
    aanpak: store.LoadedAanpak
    recipients: dict[int, str] = field(default_factory=dict)
    reason: str | None = None


def fan_out(app: Any, now: datetime, *, batch: int = BATCH) -> tuple[int, int]:
    """Claim due occurrences and create their outbox messages. Returns (queued, cancelled).

    In batches, each its own short transaction, so other writers never wait long for the lock.
    """
    queued = cancelled = 0
    while True:
        with app.db.write() as conn:
            q, c, seen = fan_out_batch(conn, app, now, batch)
        queued, cancelled = queued + q, cancelled + c
        if seen < batch:
            return queued, cancelled


def fan_out_batch(conn: sa.Connection, app: Any, now: datetime, limit: int,
                  report: Callable[[Fanned], None] | None = None) -> tuple[int, int, int]:
    """Inside the caller's write transaction: claim up to `limit` due occurrences.

    Returns (queued, cancelled, seen); `report` is told what each claimed occurrence came to.
    """
    queued = cancelled = 0
    due = store.lock_due_reminders(conn, now, limit)
    won = store.claim_reminders(conn, [r.id for r in due], now)
    loaded: dict[int, store.LoadedAanpak] = {}  # an aanpak's occurrences share its row, definition and roles
    for r in due:
        if r.id not in won:
            continue  # another sweep took it
        aanpak = loaded.get(r.aanpak_id)
        if aanpak is None:
            aanpak = loaded[r.aanpak_id] = store.load_aanpak(conn, str(r.aanpak_id), app.definitions)
        rule = aanpak.definition.reminder(r.rule)
        fanned = Fanned(occurrence=r, aanpak=aanpak, reason=why_not(conn, aanpak, rule, r, now, app.tz))
        if fanned.reason is None and rule is not None:
            for role in rule.to:
                for holder in sorted(aanpak.holders(role)):
                    fanned.recipients.setdefault(holder, role)
            if not fanned.recipients:
                fanned.reason = f"nobody holds the role {' or '.join(rule.to)} on this aanpak"
        if fanned.reason is not None:
            store.settle_reminder(conn, r.id, status="cancelled", reason=fanned.reason, now=now)
            store.append_event(conn, at=now, type="reminder_cancelled", aanpak_id=r.aanpak_id,
                               reason=fanned.reason, payload={"reminder_id": r.id, "rule": r.rule, "kind": r.kind})
            cancelled += 1
        else:
            for person_id, person_role in fanned.recipients.items():
                store.insert_message(conn, reminder_id=r.id, person_id=person_id, role=person_role, status="pending",
                                     attempts=0, next_attempt_at=now, created_at=now,
                                     message_id=message_id_for(r.id, person_id, app.settings.mail_from))
            queued += 1
        row = aanpak.row
        if r.kind == "every" and rule is not None and row.phase == r.phase and row.visit == r.visit:
            cal = app.calendar
            schedule_every(conn, cal, r.aanpak_id, rule, phase=r.phase, visit=r.visit,
                           entry=cal.local_date(row.phase_since), now=now, after_seq=r.seq)
        if report is not None:
            report(fanned)
    return queued, cancelled, len(due)


def why_not(conn: sa.Connection, aanpak: store.LoadedAanpak, rule: ReminderRule | None, r: Any,
            now: datetime, tz: Any) -> str | None:
    """The reason an occurrence is no longer relevant, or None when it should go out (the send-time check)."""
    row, definition = aanpak.row, aanpak.definition
    if rule is None:
        return f"the rule '{r.rule}' is no longer in workflow {definition.ref}"
    phase = definition.phase(row.phase)
    if phase is not None and phase.final and r.kind not in notify.MOVE_EVENTS:  # "it was closed" is news
        return "the aanpak is closed"
    if r.kind in PHASE_KINDS + notify.EVENT_KINDS and (row.phase != r.phase or row.visit != r.visit):
        return f"the aanpak is no longer in that visit of phase {r.phase}"
    if r.kind in notify.GATE_EVENTS and not notify.holds(
            definition, r.kind, gates.load_facts(conn, aanpak.row, definition), now):
        return f"no gate out of {r.phase} {_EVENT_STATES[r.kind]} any more"
    if r.kind in DEADLINE_KINDS:
        current = store.deadlines(conn, row.id).get(r.criterion)
        if current != r.deadline:
            return f"the deadline of '{r.criterion}' is now {current}"
        state = _criterion_state(aanpak, gates.load_facts(conn, aanpak.row, aanpak.definition), r.criterion, now)
        if state is None:
            return f"'{r.criterion}' is not on the gate of the current phase {row.phase}"
        if state and r.kind != "deadline_met":
            return f"'{r.criterion}' is already met"
        if not state and r.kind == "deadline_met":
            return f"'{r.criterion}' is no longer met"
        if r.kind == "before" and rule.overdue and r.deadline is not None \
                and now.astimezone(tz).date() > r.deadline:
            # After downtime: "Deadline nadert" for a deadline already gone reads wrong; the overdue one goes.
            return f"the deadline {r.deadline} has passed; the overdue reminder goes instead"
    return None



def _criterion_state(aanpak: store.LoadedAanpak, facts: gates.Facts, key: str, now: datetime) -> bool | None:
    """True met, False open, None when the criterion is not on a gate out of the current phase."""
    definition = aanpak.definition
    for t in definition.outgoing(facts.phase):
        if key in t.gate:
            result = gates.evaluate(definition, t, facts, now)
            return next(c.met for c in result.criteria if c.key == key)
    return None
