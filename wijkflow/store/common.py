"""What every concept module of the store shares: the row type, the batch size, the place filter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from ..errors import NotFound
from ..models import AANPAK

Row = sa.Row[*tuple[Any, ...]]  # a row of any shape

# Rows fetched per round trip when a query is streamed (a server-side cursor on PostgreSQL).
STREAM_BATCH = 2000


def inserted_id(result: sa.CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def insert_row(conn: sa.Connection, table: sa.Table, values: dict[str, Any]) -> int:
    """Insert one row; its new id."""
    return inserted_id(conn.execute(table.insert().values(**values)))


def rows_of_aanpak(conn: sa.Connection, table: sa.Table, aanpak_id: int, *where: Any, order: Any = None) -> list[Row]:
    """The table's rows of one aanpak (and matching `where`), by id unless `order` says otherwise."""
    return list(conn.execute(sa.select(table).where(table.c.aanpak_id == aanpak_id, *where)
                             .order_by(table.c.id if order is None else order)))


def place_filters(*, wijk: str | None, gemeente: str | None) -> list[sa.ColumnElement[bool]]:
    """The --wijk / --gemeente filters on the aanpak table, case-insensitive (list and audit query alike)."""
    where = []
    if wijk:
        where.append(sa.func.lower(AANPAK.c.wijk) == wijk.lower())
    if gemeente:
        where.append(sa.func.lower(AANPAK.c.gemeente) == gemeente.lower())
    return where


def streamed(conn: sa.Connection, query: sa.Select[Any], batch: int = STREAM_BATCH) -> Iterator[Row]:
    """The query's rows fetched `batch` at a time (a server-side cursor on PostgreSQL); the cursor is
    closed however the caller stops reading."""
    with conn.execution_options(yield_per=batch).execute(query) as result:
        yield from result


def ref_key(ref: str) -> tuple[str, int | str] | None:
    """How an aanpak reference is looked up: ("id", number) or ("slug", text); None when it cannot match.

    A reference of digits is the aanpak's number (one too long for an id matches nothing).
    """
    ref = ref.strip()
    if ref.isdigit():
        return ("id", int(ref)) if len(ref) < 19 else None
    return "slug", ref


def no_such_aanpak(ref: str) -> NotFound:
    return NotFound(f"No wijkaanpak '{ref.strip()}' (use its number or slug; `wijkflow list` shows them).")
