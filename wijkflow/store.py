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


# --- audit: verification, queries, history replay (issue 4) ---------------------------

STREAM_BATCH = 2000


def stream_chain(conn: sa.Connection) -> Iterator[Row]:
    """Every event in chain order, fetched in batches (a server-side cursor on PostgreSQL)."""
    yield from conn.execution_options(yield_per=STREAM_BATCH).execute(sa.select(event_t).order_by(event_t.c.id))


def event_id_by_hash(conn: sa.Connection, hash_: str) -> int | None:
    """Which event carries this hash (a full scan: only used to explain a broken chain)."""
    return conn.execute(sa.select(event_t.c.id).where(event_t.c.hash == hash_).limit(1)).scalar()


def chain_head(conn: sa.Connection) -> Row | None:
    return conn.execute(sa.select(event_t.c.id, event_t.c.at, event_t.c.hash)
                        .order_by(event_t.c.id.desc()).limit(1)).first()


def query_events(conn: sa.Connection, *, aanpak_id: int | None = None, wijk: str | None = None,
                 gemeente: str | None = None, phase: str | None = None, actor_id: int | None = None,
                 types: tuple[str, ...] = (), since: datetime | None = None,
                 until: datetime | None = None) -> Iterator[Row]:
    """Events matching every filter given, in chain order, streamed in batches."""
    query = (sa.select(event_t, aanpak_t.c.slug.label("aanpak_slug"), aanpak_t.c.name.label("aanpak_name"),
                       aanpak_t.c.wijk.label("aanpak_wijk"), aanpak_t.c.gemeente.label("aanpak_gemeente"))
             .select_from(event_t.outerjoin(aanpak_t, aanpak_t.c.id == event_t.c.aanpak_id)))
    if aanpak_id is not None:
        query = query.where(event_t.c.aanpak_id == aanpak_id)
    if wijk:
        query = query.where(sa.func.lower(aanpak_t.c.wijk) == wijk.lower())
    if gemeente:
        query = query.where(sa.func.lower(aanpak_t.c.gemeente) == gemeente.lower())
    if phase:
        query = query.where(sa.or_(event_t.c.from_phase == phase, event_t.c.to_phase == phase))
    if actor_id is not None:
        query = query.where(event_t.c.actor_id == actor_id)
    if types:
        query = query.where(event_t.c.type.in_(types))
    if since is not None:
        query = query.where(event_t.c.at >= since)
    if until is not None:
        query = query.where(event_t.c.at < until)
    yield from conn.execution_options(yield_per=STREAM_BATCH).execute(query.order_by(event_t.c.id))


def event_types(conn: sa.Connection) -> set[str]:
    return set(conn.execute(sa.select(event_t.c.type).distinct()).scalars())


def wijk_exists(conn: sa.Connection, wijk: str) -> bool:
    return conn.execute(sa.select(aanpak_t.c.id).where(sa.func.lower(aanpak_t.c.wijk) == wijk.lower())
                        .limit(1)).first() is not None


def gemeente_exists(conn: sa.Connection, gemeente: str) -> bool:
    return conn.execute(sa.select(aanpak_t.c.id).where(sa.func.lower(aanpak_t.c.gemeente) == gemeente.lower())
                        .limit(1)).first() is not None


def all_people(conn: sa.Connection) -> dict[int, Row]:
    """Everyone, by id: far fewer people than events, so a lookup table is fine."""
    return {r.id: r for r in conn.execute(sa.select(person_t))}


def any_admin(conn: sa.Connection) -> bool:
    return conn.execute(sa.select(person_t.c.id).where(person_t.c.role == "admin").limit(1)).first() is not None


def definition_id_by_version(conn: sa.Connection, name: str, version: int) -> int | None:
    return conn.execute(sa.select(definition_t.c.id).where(
        definition_t.c.name == name, definition_t.c.version == version)).scalar()


def phase_events(conn: sa.Connection, aanpak_ids: list[int] | None = None) -> Iterator[Row]:
    """Creation and phase changes, grouped by aanpak in time order: the input of phase statistics."""
    query = (sa.select(event_t.c.id, event_t.c.aanpak_id, event_t.c.at, event_t.c.type, event_t.c.from_phase,
                       event_t.c.to_phase, event_t.c.payload)
             .where(event_t.c.type.in_(("aanpak_created", "phase_changed")), event_t.c.aanpak_id.is_not(None)))
    if aanpak_ids is not None:
        query = query.where(event_t.c.aanpak_id.in_(aanpak_ids))
    yield from conn.execution_options(yield_per=STREAM_BATCH).execute(
        query.order_by(event_t.c.aanpak_id, event_t.c.id))


def events_until(conn: sa.Connection, aanpak_id: int, until: datetime) -> list[Row]:
    return list(conn.execute(sa.select(event_t).where(event_t.c.aanpak_id == aanpak_id, event_t.c.at < until)
                             .order_by(event_t.c.id)))


def overdue_reminders(conn: sa.Connection, aanpak_id: int, now: datetime) -> int | None:
    """How many reminders of this aanpak are overdue, or None while wijkflow has no reminders table.

    TODO(issue 3, reminders): the reminder tables are built in parallel. Once they are merged,
    count this aanpak's occurrences that are due before `now` and not sent (pending or failed)
    here; the portfolio report already shows the number, and a dash while this returns None.
    """
    return None


def secure_delete(conn: sa.Connection) -> None:
    """SQLite: overwrite freed row space with zeros from now on, so an erased name leaves no bytes behind."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA secure_delete=ON")


def checkpoint(db: Any) -> bool:
    """SQLite: copy the write-ahead log into the database file and empty it.

    True when the log is empty afterwards; False if a reader still holds an old snapshot
    (run `wijkflow people forget` again later, or `sqlite3 FILE 'PRAGMA wal_checkpoint(TRUNCATE)'`).
    Other databases: True (PostgreSQL keeps dead row versions until VACUUM; see README).
    """
    if not db.is_sqlite or db.path is None:
        return True
    raw = db.engine.raw_connection()
    try:
        busy, _log, _done = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return busy == 0
    finally:
        raw.close()
