"""`audit query --format csv` at scale: millions of events streamed as CSV rows, quickly.

The same events, filters and columns as services.audit.query, but straight from the driver's
tuples (rawsql.stream) to csv.writer: no SQLAlchemy row, no per-event dict, and the payload
written as stored, which is exactly the canonical JSON the hash chain covers. Only the rare
events with a gate or an override have their payload parsed. Local times are computed once
per UTC hour (Europe/Amsterdam changes offset on the hour).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from .. import rawsql, store
from ..app import App
from .audit import resolve_filters


def count(app: App, **filters: Any) -> int:
    """How many events the export will write (for a progress bar)."""
    with app.db.read() as conn:
        f, _, _ = resolve_filters(conn, app, **filters)
        sql, params = store.audit_export_sql(conn, count=True, **f)
        return _scalar(conn, sql, params)


def _scalar(conn: Any, sql: str, params: dict[str, Any]) -> int:
    for (n,) in rawsql.stream(conn, sql, **params):
        return int(n)
    return 0


def csv_rows(app: App, *, gate_cell: Callable[[list[dict[str, Any]]], str], **filters: Any) -> Iterator[list[Any]]:
    """One list of QUERY_CSV values per event, oldest first. Filters are checked before the first row."""
    with app.db.read() as conn:
        f, people, _ = resolve_filters(conn, app, **filters)
        sql, params = store.audit_export_sql(conn, **f)
        local = _LocalTime(app.tz)
        actors: dict[Any, tuple[Any, Any]] = {}
        for (id_, at, type_, actor_id, from_phase, to_phase, reason, evidence, payload, prev_hash, hash_, slug,
             wijk, gemeente) in rawsql.stream(conn, sql, **params):
            actor = actors.get(actor_id)
            if actor is None:
                ref = people[actor_id]
                actor = actors[actor_id] = (ref["name"], ref["email"]) if ref else (None, None)
            override, gate = "no", ""
            if payload and ('"gate"' in payload or '"override"' in payload):
                data = json.loads(payload)
                override = "yes" if data.get("override") else "no"
                if data.get("gate"):
                    gate = gate_cell([{"key": c.get("key"), "met": c.get("met"), "by": people[c.get("person_id")],
                                       "evidence": c.get("evidence")} for c in data["gate"]])
            yield [id_, local(at), slug, wijk, gemeente, type_, actor_id, actor[0], actor[1], from_phase, to_phase,
                   reason, evidence, override, gate, payload or "{}", prev_hash, hash_]


class _LocalTime:
    """A stored UTC moment as local ISO time to the second, like services.common.local_iso."""

    def __init__(self, tz: Any) -> None:
        self.tz = tz
        self.hours: dict[str, tuple[timedelta, str]] = {}

    def __call__(self, at: Any) -> str | None:
        if at is None:
            return None
        if not isinstance(at, str):  # PostgreSQL: a datetime already
            moment = at if at.tzinfo else at.replace(tzinfo=UTC)
            return moment.astimezone(self.tz).isoformat(timespec="seconds")
        hour = at[:13]
        known = self.hours.get(hour)
        if known is None:
            offset = datetime.fromisoformat(hour + ":00").replace(tzinfo=UTC).astimezone(self.tz).utcoffset()
            assert offset is not None
            minutes = int(offset.total_seconds()) // 60
            sign = "+" if minutes >= 0 else "-"
            known = self.hours[hour] = (offset, f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}")
        return (datetime.fromisoformat(at[:19]) + known[0]).isoformat() + known[1]
