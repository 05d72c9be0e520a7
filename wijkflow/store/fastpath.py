"""The statements every lifecycle step and every sent message runs, on the DBAPI cursor directly.

Why a second way to the database at all: a phase change (services.advance) runs about nine
statements, and through SQLAlchemy Core each one is built, cache-keyed, coerced and set up as
a result again on every call. Measured with benchmarks/lifecycle.py's workload (CPU time per
step, same machine, load average 2-4): about 350-390 µs with this module, about 2,800-3,300 µs
with the same statements written in Core. The target is 10x the hand-written sqlite3 floor
(about 50 µs), which only this module meets. The reminder sweep has the same shape (a lookup of
the aanpak, an outbox insert and an outcome update per message): through Core those three cost
about 1.1 ms per message, a third of the mail benchmark's budget (benchmarks/mail.py fell from
0.73x to 0.47x of a bare smtplib loop). Only these statements live here; everything else is
Core in the concept modules.

The SQL is written with named `:params` (SQLite's style, rewritten to psycopg's `%(name)s`
on PostgreSQL). Column lists, row types and conversions come from the table metadata in
models.py: a column typed UTCDateTime reads as an aware UTC datetime and binds the way
SQLAlchemy binds it, a Date column reads as a date, exactly as through Core.
"""

from __future__ import annotations

import re
from collections import namedtuple
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from ..models import AANPAK, DEFINITION, EVENT, MESSAGE, PERSON, RECORD, REMINDER, ROLE, UTCDateTime
from .common import ref_key

_PARAM = re.compile(r"(?<!:):([a-z_][a-z0-9_]*)")


class _Shape:
    """The row type of a SELECT of these columns: a named tuple, with the time columns converted."""

    def __init__(self, columns: Sequence[sa.ColumnElement[Any]], *, names: Sequence[str] | None = None) -> None:
        self.names = tuple(names or [c.name for c in columns])
        self.row = namedtuple("Row", self.names)  # type: ignore[misc]  # noqa: PYI024
        readers = [(i, _reader(c.type)) for i, c in enumerate(columns)]
        self.times = tuple((i, read) for i, read in readers if read is not None)

    def __call__(self, values: Sequence[Any], dialect: sa.Dialect) -> Any:
        if self.times:
            values = list(values)
            for i, read in self.times:
                values[i] = read(values[i], dialect)
        return self.row(*values)


def _reader(type_: Any) -> Callable[[Any, sa.Dialect], Any] | None:
    if isinstance(type_, UTCDateTime):
        return type_.process_result_value
    if isinstance(type_, sa.Date):
        return _day
    return None


def _day(value: Any, _dialect: sa.Dialect) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _bind(conn: sa.Connection, column: sa.Column[Any], value: Any) -> Any:
    """A value as SQLAlchemy binds it for this column on this database (a UTC moment on SQLite: its text)."""
    process = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return process(value) if process is not None and value is not None else value


def _execute(conn: sa.Connection, sql: str, params: dict[str, Any]) -> Any:
    """A DBAPI cursor on the connection SQLAlchemy opened (inside its transaction), having run `sql`."""
    if conn.dialect.name != "sqlite":
        sql = _PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, params)
    except conn.dialect.loaded_dbapi.Error as err:
        cursor.close()
        # Wrapped the way SQLAlchemy wraps it, so db.py translates it like any other database error.
        raise sa.exc.DBAPIError.instance(sql, params, err, conn.dialect.loaded_dbapi.Error) from err
    return cursor


def _fetch(conn: sa.Connection, sql: str, params: dict[str, Any], *, one: bool = False) -> Any:
    cursor = _execute(conn, sql, params)
    try:
        return cursor.fetchone() if one else cursor.fetchall()
    finally:
        cursor.close()


def _write(conn: sa.Connection, sql: str, params: dict[str, Any]) -> int:
    cursor = _execute(conn, sql, params)
    try:
        return int(cursor.rowcount)
    finally:
        cursor.close()


def _columns(table: sa.Table, alias: str) -> str:
    return ", ".join(f"{alias}.{c.name}" for c in table.c)


# --- the aanpak and the person acting on it -----------------------------------------------------

_AANPAK = _Shape([*AANPAK.c, DEFINITION.c.hash], names=[*AANPAK.c.keys(), "definition_hash"])
_PERSON = _Shape(list(PERSON.c))
_WITH_PERSON = (f"SELECT {_columns(AANPAK, 'a')}, d.hash, {_columns(PERSON, 'p')} FROM aanpak a "
                "JOIN workflow_definition d ON d.id = a.definition_id LEFT JOIN person p ON p.email = :email WHERE ")


def find_aanpak(conn: sa.Connection, ref: str) -> Any | None:
    """The aanpak by number or slug, with its definition's content hash; None: no such aanpak."""
    key = ref_key(ref)
    if key is None:
        return None
    found = _fetch(conn, f"SELECT {_columns(AANPAK, 'a')}, d.hash FROM aanpak a "
                         f"JOIN workflow_definition d ON d.id = a.definition_id WHERE a.{key[0]} = :value",
                   {"value": key[1]}, one=True)
    return None if found is None else _AANPAK(found, conn.dialect)


def aanpak_version(conn: sa.Connection, ref: str) -> int | None:
    """Only the aanpak's version (advance's early read, before its write transaction); None: no such aanpak."""
    key = ref_key(ref)
    if key is None:
        return None
    found = _fetch(conn, f"SELECT version FROM aanpak WHERE {key[0]} = :value", {"value": key[1]}, one=True)
    return None if found is None else int(found[0])


def find_aanpak_with_person(conn: sa.Connection, ref: str, email: str) -> tuple[Any, Any | None] | None:
    """The aanpak (as store.find_aanpak gives it) and the person with this email, in one statement.

    None when there is no such aanpak; the person is None when nobody has that email.
    """
    key = ref_key(ref)
    if key is None:
        return None
    found = _fetch(conn, _WITH_PERSON + f"a.{key[0]} = :value", {"email": email, "value": key[1]}, one=True)
    if found is None:
        return None
    cut = len(_AANPAK.names)
    person = _PERSON(found[cut:], conn.dialect)
    return _AANPAK(found[:cut], conn.dialect), (person if person.id is not None else None)


def change_phase(conn: sa.Connection, aanpak_id: int, *, expected_version: int, phase: str, now: datetime) -> int:
    """The version-checked phase change; how many rows it changed (0: someone else changed it first)."""
    return _write(conn, "UPDATE aanpak SET phase = :phase, phase_since = :now, updated_at = :now, "
                        "visit = visit + 1, version = version + 1 WHERE id = :id AND version = :expected",
                  {"phase": phase, "now": _bind(conn, AANPAK.c.updated_at, now), "id": aanpak_id,
                   "expected": expected_version})


# --- what the gate is evaluated on ------------------------------------------------------------------

_ROLE = _Shape([ROLE.c.role, ROLE.c.person_id])
_RECORD = _Shape(list(RECORD.c))


def roles(conn: sa.Connection, aanpak_id: int) -> list[Any]:
    rows = _fetch(conn, "SELECT role, person_id FROM aanpak_role WHERE aanpak_id = :id ORDER BY id", {"id": aanpak_id})
    return [_ROLE(r, conn.dialect) for r in rows]


def records(conn: sa.Connection, aanpak_id: int, visit: int) -> list[Any]:
    """Records of this visit, plus the aanpak-wide ones (stored as visit 0); withdrawn ones no longer count."""
    rows = _fetch(conn, f"SELECT {_columns(RECORD, 'r')} FROM criterion_record r "
                        "WHERE r.aanpak_id = :id AND r.visit IN (0, :visit) AND r.withdrawn_at IS NULL ORDER BY r.id",
                  {"id": aanpak_id, "visit": visit})
    return [_RECORD(r, conn.dialect) for r in rows]


# --- reminders the phase left behind ------------------------------------------------------------------


def cancel_reminders(conn: sa.Connection, aanpak_id: int, *, reason: str, now: datetime,
                     kinds: tuple[str, ...] | None = None, visit: int | None = None,
                     criterion: str | None = None, ids: list[int] | None = None) -> int:
    """Pending occurrences become cancelled, with the reason; never deleted.

    The dedupe key is freed (suffixed) so the same occurrence can be scheduled again later,
    e.g. a deadline moved away and back.
    """
    if ids is not None and not ids:
        return 0
    sql = ("UPDATE reminder SET status = 'cancelled', reason = :reason, updated_at = :now, "
           "dedupe = dedupe || '#cancelled-' || CAST(id AS TEXT) "
           "WHERE aanpak_id = :aanpak_id AND status = 'pending'")
    params: dict[str, Any] = {"reason": reason, "now": _bind(conn, REMINDER.c.updated_at, now),
                              "aanpak_id": aanpak_id}
    for column, values in (("kind", kinds), ("id", ids)):
        if values is not None:
            sql += f" AND {column} IN (" + ", ".join(f":{column}{i}" for i in range(len(values))) + ")"
            params.update({f"{column}{i}": v for i, v in enumerate(values)})
    for column, value in (("visit", visit), ("criterion", criterion)):
        if value is not None:
            sql += f" AND {column} = :{column}"
            params[column] = value
    return _write(conn, sql, params)


# --- the audit chain ------------------------------------------------------------------------------------

_EVENT_COLUMNS = [c.name for c in EVENT.c]
_INSERT_EVENT = (f"INSERT INTO audit_event ({', '.join(_EVENT_COLUMNS)}) "
                 f"VALUES ({', '.join(':' + n for n in _EVENT_COLUMNS)})")


def chain_end(conn: sa.Connection) -> tuple[int, str] | None:
    """(id, hash) of the newest event."""
    found = _fetch(conn, "SELECT id, hash FROM audit_event ORDER BY id DESC LIMIT 1", {}, one=True)
    return None if found is None else (int(found[0]), found[1])


def insert_event(conn: sa.Connection, event: dict[str, Any]) -> None:
    _write(conn, _INSERT_EVENT, {**event, "at": _bind(conn, EVENT.c.at, event["at"])})


# --- the outbox: one insert per recipient, one outcome per message ---------------------------------------

_MESSAGE_DEFAULTS = {c.name: c.default.arg for c in MESSAGE.c
                     if isinstance(c.default, ScalarElementColumnDefault)}


def insert_message(conn: sa.Connection, **values: Any) -> None:
    """One outbox row; columns not given take their table default, as a Core insert would."""
    row = {**_MESSAGE_DEFAULTS, **values}
    names = list(row)
    _write(conn, f"INSERT INTO reminder_message ({', '.join(names)}) VALUES ({', '.join(':' + n for n in names)})",
           {n: _bind(conn, MESSAGE.c[n], v) for n, v in row.items()})


def finish_message(conn: sa.Connection, message_id: int, *, token: str, status: str, now: datetime,
                   error: str | None = None, next_attempt_at: datetime | None = None) -> bool:
    """Record the outcome, only if this sweep still holds the claim."""
    values: dict[str, Any] = {"status": status, "error": error, "claimed_by": None}
    if status == "sent":
        values["sent_at"] = now
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    assignments = ", ".join(f"{n} = :{n}" for n in values)
    params = {n: _bind(conn, MESSAGE.c[n], v) for n, v in values.items()}
    return _write(conn, f"UPDATE reminder_message SET {assignments} WHERE id = :message_id AND claimed_by = :token "
                        "AND status = 'sending'", {**params, "message_id": message_id, "token": token}) == 1
