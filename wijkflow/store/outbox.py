"""Reminder occurrences (`reminder`) and the outbox of messages to send (`reminder_message`).

Claims are conditional UPDATEs re-checked row by row, so two sweeps on one database never hold
the same message. On PostgreSQL the candidates are first locked with FOR UPDATE SKIP LOCKED, so
concurrent sweeps take disjoint batches instead of queueing behind each other's row locks; SQLite
serialises writers (BEGIN IMMEDIATE) and needs neither. A claim is a lease: `claimed_at` older
than the lease means the claiming node died.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..models import AANPAK, EVENT, MESSAGE, REMINDER
from . import fastpath
from .common import Row, insert_row

# Run on every phase change: see fastpath.py for why it is not Core.
cancel_reminders = fastpath.cancel_reminders


# --- occurrences ----------------------------------------------------------------------


def insert_reminder(conn: sa.Connection, **values: Any) -> int | None:
    """Schedule one occurrence; None when the same occurrence (dedupe key) is already there."""
    if conn.execute(sa.select(REMINDER.c.id).where(REMINDER.c.dedupe == values["dedupe"])).first():
        return None
    return insert_row(conn, REMINDER, values)


def pending_reminders(conn: sa.Connection, aanpak_id: int) -> list[Row]:
    return list(conn.execute(sa.select(REMINDER).where(
        REMINDER.c.aanpak_id == aanpak_id, REMINDER.c.status == "pending").order_by(REMINDER.c.due_at)))


def _due(now: datetime, limit: int) -> sa.Select[Any]:
    # A suspended aanpak's reminders wait (pending) until it resumes (services/status.py).
    paused = sa.select(AANPAK.c.id).where(AANPAK.c.status == "suspended")
    return (sa.select(REMINDER).where(REMINDER.c.status == "pending", REMINDER.c.due_at <= now,
                                      REMINDER.c.aanpak_id.not_in(paused))
            .order_by(REMINDER.c.due_at, REMINDER.c.id).limit(limit))


def due_reminders(conn: sa.Connection, now: datetime, limit: int = 500) -> list[Row]:
    return list(conn.execute(_due(now, limit)))


def lock_due_reminders(conn: sa.Connection, now: datetime, limit: int) -> list[Row]:
    """Due pending occurrences for fan-out, skipping those another sweep is fanning out (PostgreSQL)."""
    return list(conn.execute(_skip_locked(conn, _due(now, limit))))


def claim_reminders(conn: sa.Connection, reminder_ids: list[int], now: datetime) -> set[int]:
    """pending -> queued for a fan-out batch, in one statement; the ids this transaction took."""
    if not reminder_ids:
        return set()
    return {r.id for r in conn.execute(REMINDER.update().where(
        REMINDER.c.id.in_(reminder_ids), REMINDER.c.status == "pending")
        .values(status="queued", updated_at=now).returning(REMINDER.c.id))}


def settle_reminder(conn: sa.Connection, reminder_id: int, *, status: str, reason: str | None,
                    now: datetime) -> None:
    conn.execute(REMINDER.update().where(REMINDER.c.id == reminder_id).values(
        status=status, reason=reason, updated_at=now,
        dedupe=REMINDER.c.dedupe + "#" + status + "-" + sa.cast(REMINDER.c.id, sa.String)))


def overdue_reminders(conn: sa.Connection, aanpak_id: int, now: datetime) -> int:
    """How many of this aanpak's reminders fell due and have not gone out to everyone.

    Still waiting for a sweep (pending), or fanned out with a message that is not sent yet
    (pending, being sent, or failed).
    """
    unsent = MESSAGE.c.status.in_(("pending", "sending", "failed"))
    query = (sa.select(sa.func.count(sa.distinct(REMINDER.c.id)))
             .select_from(REMINDER.outerjoin(MESSAGE, sa.and_(MESSAGE.c.reminder_id == REMINDER.c.id, unsent)))
             .where(REMINDER.c.aanpak_id == aanpak_id, REMINDER.c.due_at <= now,
                    sa.or_(REMINDER.c.status == "pending",
                           sa.and_(REMINDER.c.status == "queued", MESSAGE.c.id.is_not(None)))))
    return int(conn.execute(query).scalar_one())


def reminder_overview(conn: sa.Connection, *, status: tuple[str, ...] | None = None,
                      due_before: datetime | None = None) -> list[Row]:
    """Occurrences with their messages (outer join: pending and cancelled ones have none)."""
    query = (sa.select(REMINDER.c.id.label("reminder_id"), REMINDER.c.aanpak_id, REMINDER.c.rule,
                       REMINDER.c.kind, REMINDER.c.criterion, REMINDER.c.due_at,
                       REMINDER.c.status.label("reminder_status"), REMINDER.c.reason,
                       MESSAGE.c.id.label("message_pk"), MESSAGE.c.person_id, MESSAGE.c.role,
                       MESSAGE.c.status.label("message_status"), MESSAGE.c.attempts,
                       MESSAGE.c.next_attempt_at, MESSAGE.c.error, MESSAGE.c.sent_at,
                       MESSAGE.c.message_id, AANPAK.c.slug)
             .select_from(REMINDER.outerjoin(MESSAGE, MESSAGE.c.reminder_id == REMINDER.c.id)
                          .join(AANPAK, AANPAK.c.id == REMINDER.c.aanpak_id)))
    if due_before is not None:
        query = query.where(REMINDER.c.due_at <= due_before)
    return [r for r in conn.execute(query.order_by(REMINDER.c.due_at, REMINDER.c.id, MESSAGE.c.id))
            if status is None or (r.message_status or r.reminder_status) in status]


def next_wake(conn: sa.Connection) -> datetime | None:
    """The earliest moment anything in the outbox or the schedule falls due."""
    # min() has its column's type (UTCDateTime): the answers are aware UTC datetimes.
    a = conn.execute(sa.select(sa.func.min(REMINDER.c.due_at)).where(REMINDER.c.status == "pending")).scalar()
    b = conn.execute(sa.select(sa.func.min(MESSAGE.c.next_attempt_at))
                     .where(MESSAGE.c.status == "pending")).scalar()
    found = [v for v in (a, b) if v is not None]
    return min(found) if found else None


# --- the outbox -------------------------------------------------------------------------


# Run for every message a sweep sends: see fastpath.py for why these are not Core.
insert_message = fastpath.insert_message
finish_message = fastpath.finish_message


def _skip_locked(conn: sa.Connection, query: sa.Select[Any]) -> sa.Select[Any]:
    return query.with_for_update(skip_locked=True) if conn.dialect.name == "postgresql" else query


def _claimable(now: datetime, lease_expired_before: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(sa.and_(MESSAGE.c.status == "pending", MESSAGE.c.next_attempt_at <= now),
                  sa.and_(MESSAGE.c.status == "sending", MESSAGE.c.claimed_at < lease_expired_before))


def _claimable_ids(now: datetime, lease_expired_before: datetime, limit: int) -> sa.Select[Any]:
    return (sa.select(MESSAGE.c.id).where(_claimable(now, lease_expired_before))
            .order_by(MESSAGE.c.next_attempt_at, MESSAGE.c.id).limit(limit))


def claimable_messages(conn: sa.Connection, now: datetime, lease_expired_before: datetime, limit: int) -> list[int]:
    """Pending messages whose (re)try time has come, and claims whose lease ran out (a crashed sweep's)."""
    return list(conn.execute(_claimable_ids(now, lease_expired_before, limit)).scalars())


def claim_messages(conn: sa.Connection, *, now: datetime, lease_expired_before: datetime, token: str,
                   limit: int) -> list[int]:
    """Claim up to `limit` of the claimable messages for `token`; their ids."""
    candidates = list(conn.execute(_skip_locked(conn, _claimable_ids(now, lease_expired_before, limit))).scalars())
    if not candidates:
        return []
    conn.execute(MESSAGE.update().where(MESSAGE.c.id.in_(candidates), _claimable(now, lease_expired_before))
                 .values(status="sending", claimed_by=token, claimed_at=now, attempts=MESSAGE.c.attempts + 1))
    return held_claims(conn, candidates, token)


def held_claims(conn: sa.Connection, ids: list[int], token: str) -> list[int]:
    return list(conn.execute(sa.select(MESSAGE.c.id).where(
        MESSAGE.c.id.in_(ids), MESSAGE.c.claimed_by == token, MESSAGE.c.status == "sending")
        .order_by(MESSAGE.c.id)).scalars())


def renew_claims(conn: sa.Connection, ids: list[int], *, token: str, now: datetime) -> set[int]:
    """Extend the lease on the messages this sweep still holds; returns those (others were taken over)."""
    if not ids:
        return set()
    conn.execute(MESSAGE.update().where(MESSAGE.c.id.in_(ids), MESSAGE.c.claimed_by == token,
                                        MESSAGE.c.status == "sending").values(claimed_at=now))
    return set(held_claims(conn, ids, token))


def message_rows(conn: sa.Connection, ids: list[int]) -> list[Row]:
    if not ids:
        return []
    return list(conn.execute(
        sa.select(MESSAGE, REMINDER.c.aanpak_id, REMINDER.c.rule, REMINDER.c.kind,
                  REMINDER.c.criterion, REMINDER.c.deadline, REMINDER.c.due_at, REMINDER.c.phase,
                  REMINDER.c.visit)
        .join(REMINDER, REMINDER.c.id == MESSAGE.c.reminder_id)
        .where(MESSAGE.c.id.in_(ids)).order_by(MESSAGE.c.id)))


# --- calendar entries, digests, requeueing -------------------------------------------------


def deadline_moves(conn: sa.Connection, aanpak_id: int) -> dict[str, int]:
    """Per criterion, how often its deadline moved (a `deadline_set` with another previous date):
    the SEQUENCE of its calendar entry, which must rise for calendars to update the entry."""
    moves: dict[str, int] = {}
    rows = conn.execute(sa.select(EVENT.c.payload).where(EVENT.c.aanpak_id == aanpak_id,
                                                         EVENT.c.type == "deadline_set"))
    for (payload,) in rows:
        data = json.loads(payload or "{}")
        criterion = data.get("criterion")
        if criterion and data.get("previous") and data.get("previous") != data.get("due"):
            moves[criterion] = moves.get(criterion, 0) + 1
    return moves


def last_event(conn: sa.Connection, aanpak_id: int, type_: str) -> Row | None:
    """The aanpak's latest audit event of one type (what an event notification tells about)."""
    return conn.execute(sa.select(EVENT).where(EVENT.c.aanpak_id == aanpak_id, EVENT.c.type == type_)
                        .order_by(EVENT.c.id.desc()).limit(1)).first()


def calendars_sent(conn: sa.Connection, aanpak_id: int) -> list[tuple[str, str, Any]]:
    """(rule, criterion, deadline) of the deadline reminders that went out with a calendar entry."""
    return [(r.rule, r.criterion, r.deadline) for r in conn.execute(
        sa.select(REMINDER.c.rule, REMINDER.c.criterion, REMINDER.c.deadline).distinct().where(
            REMINDER.c.aanpak_id == aanpak_id, REMINDER.c.kind == "before", REMINDER.c.status == "queued"))]


def set_message_ids(conn: sa.Connection, message_ids: dict[int, str]) -> None:
    """Stamp messages with the Message-ID they go out under (a digest's, fixed when first claimed)."""
    for mid, message_id in message_ids.items():
        conn.execute(MESSAGE.update().where(MESSAGE.c.id == mid).values(message_id=message_id))


def failed_messages(conn: sa.Connection, ids: list[int] | None) -> list[Row]:
    """Failed outbox messages (all, or those of `ids`), oldest first."""
    q = sa.select(MESSAGE.c.id, MESSAGE.c.reminder_id, MESSAGE.c.person_id, MESSAGE.c.attempts,
                  MESSAGE.c.error, MESSAGE.c.message_id, REMINDER.c.aanpak_id, REMINDER.c.rule).join(
        REMINDER, REMINDER.c.id == MESSAGE.c.reminder_id).where(MESSAGE.c.status == "failed")
    if ids is not None:
        q = q.where(MESSAGE.c.id.in_(ids))
    return list(conn.execute(q.order_by(MESSAGE.c.id)))


def requeue_message(conn: sa.Connection, message_pk: int, *, now: datetime) -> bool:
    """A failed message back to pending, due now, with a fresh count of attempts; False if it was not failed."""
    done = conn.execute(MESSAGE.update().where(MESSAGE.c.id == message_pk, MESSAGE.c.status == "failed").values(
        status="pending", attempts=0, next_attempt_at=now, error=None, claimed_by=None, claimed_at=None))
    return bool(done.rowcount)
