"""All SQL lives here. Functions take an open connection; the caller owns the transaction."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from . import audit
from .definitions import Definition
from .errors import Conflict, InvalidInput, NotFound
from .models import (
    Aanpak,
    AanpakRole,
    AuditEvent,
    CriterionDeadline,
    CriterionRecord,
    Indicator,
    Measurement,
    Person,
    Reminder,
    ReminderMessage,
    WorkflowDefinition,
)

person_t = Person.__table__
definition_t = WorkflowDefinition.__table__
aanpak_t = Aanpak.__table__
role_t = AanpakRole.__table__
record_t = CriterionRecord.__table__
deadline_t = CriterionDeadline.__table__
indicator_t = Indicator.__table__
measurement_t = Measurement.__table__
event_t = AuditEvent.__table__
reminder_t = Reminder.__table__
message_t = ReminderMessage.__table__

Row = sa.Row[Any]

# --- people -------------------------------------------------------------------------


def person_by_email(conn: sa.Connection, email: str) -> Row | None:
    return conn.execute(sa.select(person_t).where(person_t.c.email == email.strip().lower())).first()


def people_by_id(conn: sa.Connection, ids: set[int]) -> dict[int, Row]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    rows = conn.execute(sa.select(person_t).where(person_t.c.id.in_(ids)))
    return {r.id: r for r in rows}


def insert_person(conn: sa.Connection, *, email: str, name: str, locale: str, role: str | None,
                  now: datetime) -> int:
    return conn.execute(
        person_t.insert().values(email=email, name=name, locale=locale, role=role, created_at=now)
    ).inserted_primary_key[0]


def list_people(conn: sa.Connection) -> list[Row]:
    return list(conn.execute(sa.select(person_t).order_by(person_t.c.id)))


def erase_person(conn: sa.Connection, person_id: int, now: datetime) -> None:
    conn.execute(person_t.update().where(person_t.c.id == person_id)
                 .values(email=None, name=None, role=None, forgotten_at=now))


# --- definitions ----------------------------------------------------------------------

_definition_cache: dict[tuple[int, str], Definition] = {}


def pin_definition(conn: sa.Connection, d: Definition, now: datetime) -> int:
    """The id of the stored copy of this definition version, storing it the first time.

    A file edited without raising its version is refused: aanpakken already pinned to
    that version must keep the rules they started with.
    """
    digest = d.content_hash()
    row = conn.execute(sa.select(definition_t.c.id, definition_t.c.hash).where(
        definition_t.c.name == d.name, definition_t.c.version == d.version)).first()
    if row is not None:
        if row.hash != digest:
            raise InvalidInput(
                f"Workflow '{d.name}' version {d.version} was changed after aanpakken started on it; "
                f"give the changed definition a new version number (e.g. {d.version + 1}).")
        return row.id
    return conn.execute(definition_t.insert().values(
        name=d.name, version=d.version, hash=digest, body=d.canonical_json(), loaded_at=now)
    ).inserted_primary_key[0]


def definition(conn: sa.Connection, definition_id: int) -> Definition:
    row = conn.execute(sa.select(definition_t.c.hash, definition_t.c.body)
                       .where(definition_t.c.id == definition_id)).one()
    key = (definition_id, row.hash)
    cached = _definition_cache.get(key)
    if cached is None:
        cached = Definition.model_validate_json(row.body)
        _definition_cache[key] = cached
    return cached


def stored_definitions(conn: sa.Connection) -> list[Row]:
    return list(conn.execute(sa.select(definition_t).order_by(definition_t.c.name, definition_t.c.version)))


# --- aanpakken ------------------------------------------------------------------------


def find_aanpak(conn: sa.Connection, ref: str) -> Row:
    ref = ref.strip()
    query = sa.select(aanpak_t)
    query = query.where(aanpak_t.c.id == int(ref)) if ref.isdigit() else query.where(aanpak_t.c.slug == ref)
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"No wijkaanpak '{ref}' (use its number or slug; `wijkflow list` shows them).")
    return row


def slug_taken(conn: sa.Connection, slug: str) -> bool:
    return conn.execute(sa.select(aanpak_t.c.id).where(aanpak_t.c.slug == slug)).first() is not None


def insert_aanpak(conn: sa.Connection, **values: Any) -> int:
    return conn.execute(aanpak_t.insert().values(**values)).inserted_primary_key[0]


def change_phase(conn: sa.Connection, aanpak_id: int, *, expected_version: int, phase: str,
                 now: datetime) -> None:
    """Version-checked: exactly one of two concurrent phase changes lands."""
    result = conn.execute(
        aanpak_t.update()
        .where(aanpak_t.c.id == aanpak_id, aanpak_t.c.version == expected_version)
        .values(phase=phase, phase_since=now, visit=aanpak_t.c.visit + 1,
                version=aanpak_t.c.version + 1, updated_at=now))
    if result.rowcount != 1:
        raise Conflict("Someone else changed this wijkaanpak's phase first; nothing was written. "
                       "Look again with `wijkflow show` and retry.")


def touch_aanpak(conn: sa.Connection, aanpak_id: int, now: datetime) -> None:
    conn.execute(aanpak_t.update().where(aanpak_t.c.id == aanpak_id).values(updated_at=now))


def list_aanpakken(conn: sa.Connection, *, phase: str | None = None, wijk: str | None = None,
                   gemeente: str | None = None) -> list[Row]:
    query = sa.select(aanpak_t, definition_t.c.name.label("workflow"),
                      definition_t.c.version.label("workflow_version")).join(
        definition_t, definition_t.c.id == aanpak_t.c.definition_id)
    if phase:
        query = query.where(aanpak_t.c.phase == phase)
    if wijk:
        query = query.where(sa.func.lower(aanpak_t.c.wijk) == wijk.lower())
    if gemeente:
        query = query.where(sa.func.lower(aanpak_t.c.gemeente) == gemeente.lower())
    return list(conn.execute(query.order_by(aanpak_t.c.id)))


# --- roles ----------------------------------------------------------------------------


def roles(conn: sa.Connection, aanpak_id: int) -> list[Row]:
    return list(conn.execute(
        sa.select(role_t.c.role, role_t.c.person_id).where(role_t.c.aanpak_id == aanpak_id)
        .order_by(role_t.c.id)))


def add_role(conn: sa.Connection, aanpak_id: int, person_id: int, role: str) -> bool:
    exists = conn.execute(sa.select(role_t.c.id).where(
        role_t.c.aanpak_id == aanpak_id, role_t.c.person_id == person_id, role_t.c.role == role)).first()
    if exists:
        return False
    conn.execute(role_t.insert().values(aanpak_id=aanpak_id, person_id=person_id, role=role))
    return True


# --- criteria -------------------------------------------------------------------------


def records(conn: sa.Connection, aanpak_id: int, visit: int) -> list[Row]:
    return list(conn.execute(
        sa.select(record_t).where(record_t.c.aanpak_id == aanpak_id, record_t.c.visit == visit)
        .order_by(record_t.c.id)))


def insert_record(conn: sa.Connection, **values: Any) -> int:
    return conn.execute(record_t.insert().values(**values)).inserted_primary_key[0]


def set_deadline(conn: sa.Connection, aanpak_id: int, criterion: str, due: date) -> date | None:
    old = conn.execute(sa.select(deadline_t.c.due).where(
        deadline_t.c.aanpak_id == aanpak_id, deadline_t.c.criterion == criterion)).scalar()
    if old is None:
        conn.execute(deadline_t.insert().values(aanpak_id=aanpak_id, criterion=criterion, due=due))
    else:
        conn.execute(deadline_t.update().where(
            deadline_t.c.aanpak_id == aanpak_id, deadline_t.c.criterion == criterion).values(due=due))
    return old


def deadlines(conn: sa.Connection, aanpak_id: int) -> dict[str, date]:
    rows = conn.execute(sa.select(deadline_t.c.criterion, deadline_t.c.due)
                        .where(deadline_t.c.aanpak_id == aanpak_id))
    return {r.criterion: r.due for r in rows}


# --- indicators -----------------------------------------------------------------------


def indicators(conn: sa.Connection, aanpak_id: int) -> list[Row]:
    return list(conn.execute(sa.select(indicator_t).where(indicator_t.c.aanpak_id == aanpak_id)
                             .order_by(indicator_t.c.id)))


def indicator(conn: sa.Connection, aanpak_id: int, key: str) -> Row | None:
    return conn.execute(sa.select(indicator_t).where(
        indicator_t.c.aanpak_id == aanpak_id, indicator_t.c.key == key)).first()


def insert_indicator(conn: sa.Connection, **values: Any) -> int:
    return conn.execute(indicator_t.insert().values(**values)).inserted_primary_key[0]


def measurements(conn: sa.Connection, aanpak_id: int) -> list[Row]:
    return list(conn.execute(
        sa.select(measurement_t, indicator_t.c.key).join(
            indicator_t, indicator_t.c.id == measurement_t.c.indicator_id)
        .where(indicator_t.c.aanpak_id == aanpak_id)
        .order_by(measurement_t.c.measured_on, measurement_t.c.id)))


def insert_measurement(conn: sa.Connection, **values: Any) -> int:
    return conn.execute(measurement_t.insert().values(**values)).inserted_primary_key[0]


# --- audit events ---------------------------------------------------------------------


def append_event(conn: sa.Connection, *, at: datetime, type: str, aanpak_id: int | None = None,
                 actor_id: int | None = None, from_phase: str | None = None, to_phase: str | None = None,
                 reason: str | None = None, evidence: str | None = None,
                 payload: dict[str, Any] | None = None) -> int:
    """Append one event to the chain. The caller's write transaction serialises appends."""
    if conn.dialect.name == "postgresql":
        # One chain per database: appends must not interleave between reading the head and inserting.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(4242)"))
    last = conn.execute(sa.select(event_t.c.id, event_t.c.hash).order_by(event_t.c.id.desc()).limit(1)).first()
    event = {
        "id": (last.id + 1) if last else 1,
        "at": at,
        "aanpak_id": aanpak_id,
        "type": type,
        "actor_id": actor_id,
        "from_phase": from_phase,
        "to_phase": to_phase,
        "reason": reason,
        "evidence": evidence,
        "payload": json.dumps(payload or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
    }
    prev = last.hash if last else audit.GENESIS
    conn.execute(event_t.insert().values(**event, prev_hash=prev, hash=audit.chain_hash(prev, event)))
    return event["id"]


def events(conn: sa.Connection, aanpak_id: int | None = None) -> Iterator[Row]:
    query = sa.select(event_t).order_by(event_t.c.id)
    if aanpak_id is not None:
        query = query.where(event_t.c.aanpak_id == aanpak_id)
    yield from conn.execute(query)


def count_events(conn: sa.Connection) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(event_t)).scalar_one()


# --- reminders ------------------------------------------------------------------------
# Occurrences (`reminder`) and the outbox (`reminder_message`). Claims are conditional
# UPDATEs whose rowcount says who won, so two sweeps on one database never take the same row.


def insert_reminder(conn: sa.Connection, **values: Any) -> int | None:
    """Schedule one occurrence; None when the same occurrence (dedupe key) is already there."""
    if conn.execute(sa.select(reminder_t.c.id).where(reminder_t.c.dedupe == values["dedupe"])).first():
        return None
    return conn.execute(reminder_t.insert().values(**values)).inserted_primary_key[0]


def cancel_reminders(conn: sa.Connection, aanpak_id: int, *, reason: str, now: datetime,
                     kinds: tuple[str, ...] | None = None, visit: int | None = None,
                     criterion: str | None = None, ids: list[int] | None = None) -> int:
    """Pending occurrences become cancelled, with the reason; never deleted.

    The dedupe key is freed (suffixed) so the same occurrence can be scheduled again later,
    e.g. a deadline moved away and back.
    """
    where = [reminder_t.c.aanpak_id == aanpak_id, reminder_t.c.status == "pending"]
    if kinds is not None:
        where.append(reminder_t.c.kind.in_(kinds))
    if visit is not None:
        where.append(reminder_t.c.visit == visit)
    if criterion is not None:
        where.append(reminder_t.c.criterion == criterion)
    if ids is not None:
        where.append(reminder_t.c.id.in_(ids))
    return conn.execute(reminder_t.update().where(*where).values(
        status="cancelled", reason=reason, updated_at=now,
        dedupe=reminder_t.c.dedupe + "#cancelled-" + sa.cast(reminder_t.c.id, sa.String))).rowcount


def pending_reminders(conn: sa.Connection, aanpak_id: int) -> list[Row]:
    return list(conn.execute(sa.select(reminder_t).where(
        reminder_t.c.aanpak_id == aanpak_id, reminder_t.c.status == "pending").order_by(reminder_t.c.due_at)))


def due_reminders(conn: sa.Connection, now: datetime, limit: int = 500) -> list[Row]:
    return list(conn.execute(sa.select(reminder_t).where(
        reminder_t.c.status == "pending", reminder_t.c.due_at <= now)
        .order_by(reminder_t.c.due_at, reminder_t.c.id).limit(limit)))


def claim_reminder(conn: sa.Connection, reminder_id: int, now: datetime) -> bool:
    return conn.execute(reminder_t.update().where(
        reminder_t.c.id == reminder_id, reminder_t.c.status == "pending")
        .values(status="queued", updated_at=now)).rowcount == 1


def settle_reminder(conn: sa.Connection, reminder_id: int, *, status: str, reason: str | None,
                    now: datetime) -> None:
    conn.execute(reminder_t.update().where(reminder_t.c.id == reminder_id).values(
        status=status, reason=reason, updated_at=now,
        dedupe=reminder_t.c.dedupe + "#" + status + "-" + sa.cast(reminder_t.c.id, sa.String)))


def insert_message(conn: sa.Connection, **values: Any) -> int:
    return conn.execute(message_t.insert().values(**values)).inserted_primary_key[0]


def claimable_messages(conn: sa.Connection, now: datetime, stale_before: datetime, limit: int) -> list[int]:
    """Pending messages whose (re)try time has come, and claims left behind by a crashed sweep."""
    rows = conn.execute(sa.select(message_t.c.id).where(sa.or_(
        sa.and_(message_t.c.status == "pending", message_t.c.next_attempt_at <= now),
        sa.and_(message_t.c.status == "sending", message_t.c.claimed_at < stale_before)))
        .order_by(message_t.c.next_attempt_at, message_t.c.id).limit(limit))
    return [r.id for r in rows]


def claim_message(conn: sa.Connection, message_id: int, *, token: str, now: datetime,
                  stale_before: datetime) -> bool:
    return conn.execute(message_t.update().where(
        message_t.c.id == message_id,
        sa.or_(sa.and_(message_t.c.status == "pending", message_t.c.next_attempt_at <= now),
               sa.and_(message_t.c.status == "sending", message_t.c.claimed_at < stale_before)))
        .values(status="sending", claimed_by=token, claimed_at=now,
                attempts=message_t.c.attempts + 1)).rowcount == 1


def message_rows(conn: sa.Connection, ids: list[int]) -> list[Row]:
    if not ids:
        return []
    return list(conn.execute(
        sa.select(message_t, reminder_t.c.aanpak_id, reminder_t.c.rule, reminder_t.c.kind,
                  reminder_t.c.criterion, reminder_t.c.deadline, reminder_t.c.due_at, reminder_t.c.phase,
                  reminder_t.c.visit)
        .join(reminder_t, reminder_t.c.id == message_t.c.reminder_id)
        .where(message_t.c.id.in_(ids)).order_by(message_t.c.id)))


def finish_message(conn: sa.Connection, message_id: int, *, token: str, status: str, now: datetime,
                   error: str | None = None, next_attempt_at: datetime | None = None) -> bool:
    """Record the outcome, only if this sweep still holds the claim."""
    values: dict[str, Any] = {"status": status, "error": error, "claimed_by": None}
    if status == "sent":
        values["sent_at"] = now
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    return conn.execute(message_t.update().where(
        message_t.c.id == message_id, message_t.c.claimed_by == token, message_t.c.status == "sending")
        .values(**values)).rowcount == 1


def reminder_overview(conn: sa.Connection, *, status: tuple[str, ...] | None = None,
                      due_before: datetime | None = None) -> list[Row]:
    """Occurrences with their messages (outer join: pending and cancelled ones have none)."""
    query = (sa.select(reminder_t.c.id.label("reminder_id"), reminder_t.c.aanpak_id, reminder_t.c.rule,
                       reminder_t.c.kind, reminder_t.c.criterion, reminder_t.c.due_at,
                       reminder_t.c.status.label("reminder_status"), reminder_t.c.reason,
                       message_t.c.id.label("message_pk"), message_t.c.person_id, message_t.c.role,
                       message_t.c.status.label("message_status"), message_t.c.attempts,
                       message_t.c.next_attempt_at, message_t.c.error, message_t.c.sent_at,
                       message_t.c.message_id, aanpak_t.c.slug)
             .select_from(reminder_t.outerjoin(message_t, message_t.c.reminder_id == reminder_t.c.id)
                          .join(aanpak_t, aanpak_t.c.id == reminder_t.c.aanpak_id)))
    if due_before is not None:
        query = query.where(reminder_t.c.due_at <= due_before)
    return [r for r in conn.execute(query.order_by(reminder_t.c.due_at, reminder_t.c.id, message_t.c.id))
            if status is None or (r.message_status or r.reminder_status) in status]


def next_wake(conn: sa.Connection) -> datetime | None:
    """The earliest moment anything in the outbox or the schedule falls due."""
    a = conn.execute(sa.select(sa.func.min(reminder_t.c.due_at)).where(reminder_t.c.status == "pending")).scalar()
    b = conn.execute(sa.select(sa.func.min(message_t.c.next_attempt_at))
                     .where(message_t.c.status == "pending")).scalar()
    from .models import UTCDateTime

    conv = UTCDateTime().process_result_value
    found = [conv(v, conn.dialect) for v in (a, b) if v is not None]
    return min(found) if found else None
