"""People: the only table with personal data, and erasing it (`people forget`)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..models import EVENT, PERSON
from .common import Row, inserted_id


def person_by_email(conn: sa.Connection, email: str) -> Row | None:
    return conn.execute(sa.select(PERSON).where(PERSON.c.email == email.strip().lower())).first()


def people_by_id(conn: sa.Connection, ids: Collection[int | None], *, known: tuple[Any, ...] = ()) -> dict[int, Any]:
    """People by id (None ids, as in events without a person, are skipped); rows the caller already holds
    (`known`) are not fetched again."""
    found = {p.id: p for p in known if p is not None and p.id in ids}
    missing = sorted(i for i in ids if i is not None and i not in found)
    if missing:
        for r in conn.execute(sa.select(PERSON).where(PERSON.c.id.in_(missing))):
            found[r.id] = r
    return found


def all_people(conn: sa.Connection) -> dict[int, Row]:
    """Everyone, by id: far fewer people than events, so a lookup table is fine."""
    return {r.id: r for r in conn.execute(sa.select(PERSON))}


def list_people(conn: sa.Connection) -> list[Row]:
    return list(conn.execute(sa.select(PERSON).order_by(PERSON.c.id)))


def any_admin(conn: sa.Connection) -> bool:
    return conn.execute(sa.select(PERSON.c.id).where(PERSON.c.role == "admin").limit(1)).first() is not None


def admin_ever_existed(conn: sa.Connection) -> bool:
    """True once anyone has been an administrator, even if none is left: from then on nobody may bootstrap.

    Only the history remembers an administrator erased before the last one was protected (their row's
    role is blanked): a `person_added` event with role admin. Its payload is compact, key-sorted JSON
    (store.append_event), so the substring is exact; `audit purge` empties old payloads, which is why a
    present administrator is asked about first."""
    if any_admin(conn):
        return True
    added = sa.select(EVENT.c.id).where(EVENT.c.type == "person_added", EVENT.c.payload.contains('"role":"admin"'))
    return conn.execute(added.limit(1)).first() is not None


def locked_admins(conn: sa.Connection) -> list[int]:
    """The administrators' ids, their rows locked to the end of the transaction on PostgreSQL: two last-but-one
    administrators erasing themselves at once must not both see the other one still there. (SQLite's
    BEGIN IMMEDIATE serialises writers already; it has no FOR UPDATE and SQLAlchemy leaves it out.)"""
    return [r.id for r in conn.execute(sa.select(PERSON.c.id).where(PERSON.c.role == "admin").with_for_update())]


def insert_person(conn: sa.Connection, *, email: str, name: str, locale: str, role: str | None,
                  now: datetime) -> int:
    return inserted_id(conn.execute(
        PERSON.insert().values(email=email, name=name, locale=locale, role=role, created_at=now)))


def erase_person(conn: sa.Connection, person_id: int, now: datetime) -> None:
    conn.execute(PERSON.update().where(PERSON.c.id == person_id)
                 .values(email=None, name=None, role=None, forgotten_at=now))


def update_person(conn: sa.Connection, person_id: int, **values: str) -> None:
    conn.execute(PERSON.update().where(PERSON.c.id == person_id).values(**values))


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
        return bool(busy == 0)
    finally:
        raw.close()
