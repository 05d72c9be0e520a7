"""`audit query --format csv` at scale: millions of events streamed as CSV rows.

The same events, filters and columns as services.audit.query, streamed from the database in
batches (store.export_batches) straight into csv.writer: no per-event dict, and the payload
written as stored, which is exactly the canonical JSON the hash chain covers. Only the rare
events with a gate or an override have their payload parsed.

Every text cell goes through spreadsheet.spreadsheet_cell (a cell a spreadsheet would run as a
formula gets a single quote in front); `raw=True` writes the cells exactly as stored
(`audit query --raw-csv`, for byte-exact comparisons).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from .. import store
from ..app import App
from ..audit_columns import gate_cell
from ..audit_format import STORED_AT, utc_text
from ..models import UTCDateTime
from ..spreadsheet import csv_text, spreadsheet_cell
from .audit import resolve_filters


def count(app: App, **filters: Any) -> int:
    """How many events the export will write (for a progress bar)."""
    with app.db.read() as conn:
        f, _, _ = resolve_filters(conn, app, **filters)
        return store.count_matching(conn, **f)


def csv_rows(app: App, *, raw: bool = False, **filters: Any) -> Iterator[list[Any]]:
    """One list of COLUMNS values per event, oldest first. Filters are checked before the first row.
    Text cells are made safe for a spreadsheet unless `raw`."""
    for batch in _batches(app, gate_cell, 10_000, raw, filters):
        yield from batch


def csv_chunks(app: App, *, batch: int = 10_000, raw: bool = False, **filters: Any) -> Iterator[tuple[int, str]]:
    """(events, text): the CSV body in large pieces, as csv.writer(lineterminator="\\n") writes csv_rows.
    Filters are checked before the first piece."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for rows in _batches(app, gate_cell, batch, raw, filters):
        writer.writerows(rows)
        text = out.getvalue()
        if "\r" in text:  # rare: a cell with a carriage return, which the plain writer leaves unquoted
            text = csv_text(rows)
        out.seek(0)
        out.truncate()
        yield len(rows), text


def _batches(app: App, gate_cell: Callable[[list[dict[str, Any]]], str], batch: int, raw: bool,
             filters: dict[str, Any]) -> Iterator[list[list[Any]]]:
    with app.db.read() as conn:
        f, people, _ = resolve_filters(conn, app, **filters)
        row = _Row(app.tz, people, gate_cell, raw=raw)
        for values in store.export_batches(conn, batch, **f):
            yield list(map(row, values))


class _Row:
    """One event (store.EXPORT_COLUMNS) as its list of QUERY_CSV values: every text cell through
    spreadsheet_cell unless `raw` (the id, the actor's number, the local time and yes/no cannot
    start a formula)."""

    def __init__(self, tz: Any, people: Any, gate_cell: Callable[[list[dict[str, Any]]], str], *,
                 raw: bool = False) -> None:
        self.tz = tz
        self.people = people
        self.gate_cell = gate_cell
        self.raw = raw
        self.actors: dict[Any, tuple[Any, Any]] = {}
        self.local = _LocalTime(tz)

    def __call__(self, values: Any) -> list[Any]:
        (id_, at, type_, actor_id, from_phase, to_phase, reason, evidence, payload, prev_hash, hash_, slug, wijk,
         gemeente, aanpak_id, leaf, origin) = values
        people = self.people
        actor = self.actors.get(actor_id)
        if actor is None:
            ref = people[actor_id]
            actor = (ref["name"], ref["email"]) if ref else (None, None)
            if not self.raw:
                actor = (spreadsheet_cell(actor[0]), spreadsheet_cell(actor[1]))
            self.actors[actor_id] = actor
        override, gate = "no", ""
        if payload and ('"gate"' in payload or '"override"' in payload):
            data = json.loads(payload)
            override = "yes" if data.get("override") else "no"
            if data.get("gate"):
                gate = self.gate_cell([{"key": c.get("key"), "met": c.get("met"), "by": people[c.get("person_id")],
                                        "evidence": c.get("evidence")} for c in data["gate"]])
        if self.raw:
            return [id_, self.local(at), slug, wijk, gemeente, type_, actor_id, actor[0], actor[1], from_phase,
                    to_phase, reason, evidence, override, gate, payload or "{}", prev_hash, hash_, aanpak_id, _utc(at),
                    leaf, origin]
        c = spreadsheet_cell
        return [id_, self.local(at), c(slug), c(wijk), c(gemeente), c(type_), actor_id, actor[0], actor[1],
                c(from_phase), c(to_phase), c(reason), c(evidence), override, c(gate), c(payload or "{}"),
                c(prev_hash), c(hash_), aanpak_id, _utc(at), c(leaf), c(origin)]


def _utc(at: Any) -> str | None:
    """The stored moment as the leaf hash covers it: UTC, microseconds, Z (docs/audit-format.md)."""
    if isinstance(at, str) and STORED_AT.match(at):
        return at[:10] + "T" + at[11:] + "Z"
    moment = UTCDateTime.read(at)
    return utc_text(moment) if moment is not None else None


class _LocalTime:
    """A stored moment as local ISO time to the second, as services.common.local_iso writes it.

    The export's hot spot: per event, parsing the stored time and converting it to the zone costs
    more than the rest of the row. SQLite stores SQLAlchemy's text 'YYYY-MM-DD HH:MM:SS[.ffffff]'
    in UTC; in a zone whose offset is whole hours, the local text is worked out once per UTC hour
    and each event's minutes and seconds are copied in. Anything else (a PostgreSQL datetime,
    other text, a half-hour zone) is converted the plain way.
    """

    def __init__(self, tz: Any) -> None:
        self.tz = tz
        self.hours: dict[str, tuple[str, str] | None] = {}

    def __call__(self, at: Any) -> str | None:
        if isinstance(at, str) and (len(at) == 19 or len(at) == 26 and at[19] == "." and at[20:].isdigit()) \
                and at[10] == " ":
            key = at[:13]
            hour = self.hours[key] if key in self.hours else self.hours.setdefault(key, self._hour(key))
            if hour is not None:
                return hour[0] + at[13:19] + hour[1]
        moment = UTCDateTime.read(at)
        return moment.astimezone(self.tz).isoformat(timespec="seconds") if moment is not None else None

    def _hour(self, hour: str) -> tuple[str, str] | None:
        """('YYYY-MM-DDTHH' local, '+02:00') for this UTC hour; None when the offset is not whole hours."""
        local = datetime.fromisoformat(hour + ":00").replace(tzinfo=UTC).astimezone(self.tz)
        offset = local.utcoffset()
        if offset is None or offset % timedelta(hours=1):
            return None
        text = local.isoformat(timespec="seconds")
        return text[:13], text[19:]
