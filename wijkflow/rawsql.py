"""Running store.py's hot statements on the DBAPI connection directly.

SQLAlchemy Core spends ~35 µs per statement on cache keys, coercion and result set-up; a
phase change runs about nine statements, so that overhead alone would be most of a step.
The statements that every step runs are therefore plain SQL strings (named `:params`, the
SQLite style; rewritten once to psycopg's `%(name)s`), executed on the connection's DBAPI
cursor inside the transaction SQLAlchemy opened. Rows come back as named tuples with the
same attribute names as SQLAlchemy rows, times as aware UTC datetimes.
"""

from __future__ import annotations

import re
from collections import namedtuple
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

# Columns that hold a UTC moment or a calendar date, by name (the same names in every table).
MOMENTS = frozenset({"at", "created_at", "updated_at", "phase_since", "forgotten_at", "loaded_at",
                     "due_at", "claimed_at", "sent_at", "next_attempt_at", "lease_until"})
DAYS = frozenset({"due", "measured_on", "baseline_date", "target_date"})

_converted: dict[str, str] = {}
# Per result shape (the column names): the row class and which positions hold moments and days.
_shapes: dict[tuple[str, ...], tuple[type, tuple[int, ...], tuple[int, ...]]] = {}
_PARAM = re.compile(r"(?<!:):([a-z_][a-z0-9_]*)")


def _for(dialect: str, sql: str) -> str:
    if dialect == "sqlite":
        return sql
    out = _converted.get(sql)
    if out is None:
        out = _PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))
        _converted[sql] = out
    return out


def moment(conn: sa.Connection, value: datetime | None) -> Any:
    """A UTC moment as this database stores it (SQLAlchemy's own SQLite format, for compatibility)."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    if conn.dialect.name == "sqlite":
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return value


def _to_moment(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        if _naive_sqlite_moment(value):
            # As fromisoformat(value).replace(tzinfo=UTC), which costs ~1 µs more: eight per step.
            return datetime.fromisoformat(value + "+00:00")
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _naive_sqlite_moment(value: str) -> bool:
    """SQLAlchemy's SQLite text for a moment, 'YYYY-MM-DD HH:MM:SS[.ffffff]': no room for an offset."""
    n = len(value)
    return ((n == 19 or n == 26 and value[19] == "." and value[20:].isdigit())
            and value[10] == " " and value[13] == ":" and value[16] == ":")


def _to_day(value: Any) -> date | None:
    if isinstance(value, str):
        return date.fromisoformat(value)
    return value


def _shape(names: tuple[str, ...]) -> tuple[type, tuple[int, ...], tuple[int, ...]]:
    shape = _shapes.get(names)
    if shape is None:
        cls = namedtuple("Row", names)  # type: ignore[misc]  # noqa: PYI024
        shape = (cls, tuple(i for i, n in enumerate(names) if n in MOMENTS),
                 tuple(i for i, n in enumerate(names) if n in DAYS))
        _shapes[names] = shape
    return shape


def _execute(conn: sa.Connection, sql: str, params: dict[str, Any]) -> Any:
    dialect = conn.dialect.name
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(_for(dialect, sql), params)
    except conn.dialect.loaded_dbapi.Error as err:
        cursor.close()
        # Wrapped the way SQLAlchemy wraps it, so db.py translates it like any other database error.
        raise sa.exc.DBAPIError.instance(sql, params, err, conn.dialect.loaded_dbapi.Error) from err
    return cursor


def _fetch(conn: sa.Connection, sql: str, params: dict[str, Any], *, one: bool = False) -> tuple[tuple[str, ...], Any]:
    """(column names, all rows) or, with `one`, (column names, the first row or None)."""
    cursor = _execute(conn, sql, params)
    try:
        return tuple(d[0] for d in cursor.description), cursor.fetchone() if one else cursor.fetchall()
    finally:
        cursor.close()


def rows(conn: sa.Connection, sql: str, **params: Any) -> list[Any]:
    names, data = _fetch(conn, sql, params)
    shape = _shape(names)
    cls, moments, days = shape
    if not moments and not days:
        return [cls(*r) for r in data]
    return [_build(shape, r) for r in data]


def first(conn: sa.Connection, sql: str, **params: Any) -> Any:
    found = rows(conn, sql, **params)
    return found[0] if found else None


def first_split(conn: sa.Connection, sql: str, after: str, **params: Any) -> tuple[Any, Any] | None:
    """The first row of a join as two rows: the columns up to `after` (inclusive), and the rest.

    For `SELECT a.*, ..., x, b.* ...`: each part is the row its table's own `SELECT *` gives,
    even though both tables have columns of the same name (id, created_at).
    """
    names, found = _fetch(conn, sql, params, one=True)
    if found is None:
        return None
    cut = names.index(after) + 1
    return _one(names[:cut], found[:cut]), _one(names[cut:], found[cut:])


def _one(names: tuple[str, ...], values: Any) -> Any:
    return _build(_shape(names), values)


def _build(shape: Any, values: Any) -> Any:
    """One row: its moment and day columns converted, as the shape's named tuple."""
    cls, moments, days = shape
    if moments or days:
        values = list(values)
        for i in moments:
            values[i] = _to_moment(values[i])
        for i in days:
            values[i] = _to_day(values[i])
    return cls(*values)


def write(conn: sa.Connection, sql: str, **params: Any) -> int:
    """Run an INSERT/UPDATE; returns the affected row count."""
    cursor = _execute(conn, sql, params)
    try:
        return cursor.rowcount
    finally:
        cursor.close()


def stream(conn: sa.Connection, sql: str, batch: int = 5000, **params: Any) -> Iterator[tuple[Any, ...]]:
    """Plain DBAPI tuples, fetched `batch` at a time, values as the driver returns them.

    For exports of millions of rows: no per-row conversion at all. On PostgreSQL a named
    (server-side) cursor, so the client never holds more than one batch.
    """
    for chunk in batches(conn, sql, batch, **params):
        yield from chunk


def stream_rows(conn: sa.Connection, sql: str, batch: int = 5000, **params: Any) -> Iterator[Any]:
    """Like rows(), named tuples with times converted, but fetched `batch` at a time."""
    shape = None
    for names, chunk in _batches(conn, sql, batch, params):
        shape = shape or _shape(names)
        for values in chunk:
            yield _build(shape, values)


def batches(conn: sa.Connection, sql: str, batch: int = 5000, **params: Any) -> Iterator[list[tuple[Any, ...]]]:
    """stream's batches as the driver's lists, for a caller that handles a batch at once."""
    for _, chunk in _batches(conn, sql, batch, params):
        yield chunk


def _batches(conn: sa.Connection, sql: str, batch: int,
             params: dict[str, Any]) -> Iterator[tuple[tuple[str, ...], list[tuple[Any, ...]]]]:
    """(column names, rows) `batch` rows at a time; on PostgreSQL from a named (server-side) cursor."""
    dialect = conn.dialect.name
    dbapi = conn.connection.dbapi_connection  # type: ignore[union-attr]
    cursor = dbapi.cursor(name=f"wijkflow_stream_{id(conn):x}") if dialect == "postgresql" else dbapi.cursor()
    try:
        try:
            cursor.execute(_for(dialect, sql), params)
        except conn.dialect.loaded_dbapi.Error as err:
            raise sa.exc.DBAPIError.instance(sql, params, err, conn.dialect.loaded_dbapi.Error) from err
        names: tuple[str, ...] | None = None
        while True:
            chunk = cursor.fetchmany(batch)
            if not chunk:
                return
            names = names or tuple(d[0] for d in cursor.description)
            yield names, chunk
    finally:
        cursor.close()
