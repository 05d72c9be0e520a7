"""`audit query --format csv` at scale: millions of events streamed as CSV rows, quickly.

The same events, filters and columns as services.audit.query, but straight from the driver's
tuples (rawsql.stream) to csv.writer: no SQLAlchemy row, no per-event dict, and the payload
written as stored, which is exactly the canonical JSON the hash chain covers. Only the rare
events with a gate or an override have their payload parsed. Local times are computed once
per UTC hour (Europe/Amsterdam changes offset on the hour).

csv_chunks, which the command uses, goes further: the database itself writes each line
(store.audit_csv_lines_sql), with the local time from the offsets in force (computed here once:
per UTC hour on SQLite, to the second on PostgreSQL, as csv_rows does on each) and the actor's
name joined in; Python only joins the lines into large pieces, and still builds the rare rows
with a gate or an override exactly as csv_rows does. Plain Python row handling cannot reach
100,000 events/s on this kind of machine; SQLite's C code can, and a large SQLite export is
shared with one forked process. csv_rows stays the reference: tests prove both give the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import struct
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from .. import rawsql, store
from ..app import App
from ..errors import StorageError
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
        row = _Rows(app.tz, people, gate_cell)
        for values in rawsql.stream(conn, sql, **params):
            yield row(values)


def csv_chunks(app: App, *, gate_cell: Callable[[list[dict[str, Any]]], str], batch: int = 10_000,
               **filters: Any) -> Iterator[tuple[int, str]]:
    """(events, text): the CSV body in large pieces, exactly csv.writer(lineterminator="\\n") over
    csv_rows. Filters are checked before the first piece."""
    with app.db.read() as conn:
        f, people, _ = resolve_filters(conn, app, **filters)
        row = _Rows(app.tz, people, gate_cell)
        postgresql = conn.dialect.name == "postgresql"
        # SQLite before 3.35 (2021) has no MATERIALIZED, which the lines' SQL needs.
        if not postgresql and (conn.dialect.name != "sqlite" or sqlite3.sqlite_version_info < (3, 35)):
            sql, params = store.audit_export_sql(conn, **f)
            for values in rawsql.batches(conn, sql, batch, **params):
                row.writer.writerows(map(row, values))
                yield len(values), _take(row.out)
            return
        first_id, first, last_id, last = store.audit_ends(conn)
        if first is None:
            return
        if postgresql:  # the server builds the lines, in its own process
            window, moments = _moment_offsets(app.tz, first, last)
            sql, params = store.audit_csv_lines_sql(conn, offsets=moments, window=window, **f)
            row.parse_at = True
            for values in rawsql.batches(conn, sql, batch, **params):
                yield _piece(values, row)
            return
        window, offsets = _hour_offsets(app.tz, first, last)
        path = app.db.path
        if path is None or not hasattr(os, "fork") or last_id - first_id < 2 * SPLIT_BLOCK:
            sql, params = store.audit_csv_lines_sql(conn, offsets=offsets, window=window, **f)
            for values in rawsql.batches(conn, sql, batch, **params):
                yield _piece(values, row)
            return
        sql, params = store.audit_csv_lines_sql(conn, offsets=offsets, window=window, id_from=0, id_to=0, **f)
        yield from _split(conn, path.resolve().as_uri() + "?mode=ro", sql, params, row, batch, first_id, last_id)


# An export of more events than this is shared with one forked process, by blocks of event ids:
# the parent writes the even blocks while the child makes the next odd one. SQLite's work per
# line is most of the cost, and the machines this runs on have at least two cores.
SPLIT_BLOCK = 25_000


def _piece(values: list[tuple[str]], row: _Rows) -> tuple[int, str]:
    """A batch of store.audit_csv_lines_sql's lines as (events, text)."""
    lines = [v[0] for v in values]
    text = "".join(lines)
    # A line starts with the event's id; '[' starts a JSON array of columns for Python.
    # Such an array is first, or follows a finished line: without '\n[' there is none.
    if text[0] == "[" or "\n[" in text:
        for i, line in enumerate(lines):
            if line[0] == "[":
                lines[i] = row.line(json.loads(line))
        text = "".join(lines)
    return len(lines), text


def _split(conn: sa.Connection, uri: str, sql: str, params: dict[str, Any], row: _Rows, batch: int,
           first_id: int, last_id: int) -> Iterator[tuple[int, str]]:
    """The pieces of `sql` over [first_id, last_id] by blocks of ids, the odd blocks made by a forked child.

    The child reads through its own read-only connection (never the parent's) and sends each of
    its blocks whole through a pipe: (events, bytes), then the UTF-8 text.
    """
    blocks = [{**params, "id_from": lo, "id_to": lo + SPLIT_BLOCK}
              for lo in range(first_id, last_id + 1, SPLIT_BLOCK)]
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: make the odd blocks, send them, and leave without any clean-up
        status = 1
        try:
            os.close(read_end)
            cursor = sqlite3.connect(uri, uri=True).cursor()
            with os.fdopen(write_end, "wb") as pipe:
                for block in blocks[1::2]:
                    cursor.execute(sql, block)
                    pieces = [_piece(values, row) for values in iter(lambda: cursor.fetchmany(batch), [])]
                    data = "".join(text for _, text in pieces).encode("utf-8", "surrogatepass")
                    pipe.write(struct.pack("<QQ", sum(n for n, _ in pieces), len(data)))
                    pipe.write(data)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    done = False
    try:
        with os.fdopen(read_end, "rb") as pipe:
            for k, block in enumerate(blocks):
                if k % 2 == 0:
                    for values in rawsql.batches(conn, sql, batch, **block):
                        yield _piece(values, row)
                    continue
                head = pipe.read(16)
                if len(head) < 16:
                    break  # the child failed: said below
                n, size = struct.unpack("<QQ", head)
                if n:
                    yield n, pipe.read(size).decode("utf-8", "surrogatepass")
        done = True
    finally:
        if not done:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    if status != 0:
        raise StorageError("The export's helper process failed, so the output is incomplete; run it again.")


def _take(out: io.StringIO) -> str:
    text = out.getvalue()
    out.seek(0)
    out.truncate()
    return text


class _Rows:
    """One event's driver tuple (store.AUDIT_EXPORT_COLUMNS) as its list of QUERY_CSV values."""

    def __init__(self, tz: Any, people: Any, gate_cell: Callable[[list[dict[str, Any]]], str]) -> None:
        self.local = _LocalTime(tz)
        self.people = people
        self.gate_cell = gate_cell
        self.actors: dict[Any, tuple[Any, Any]] = {}
        self.out = io.StringIO()
        self.writer = csv.writer(self.out, lineterminator="\n")
        self.parse_at = False  # PostgreSQL: `at` came back as JSON text, the old path had a datetime

    def line(self, values: list[Any]) -> str:
        """The event as csv.writer writes it."""
        if self.parse_at and values[1] is not None:
            values[1] = datetime.fromisoformat(values[1])
        self.writer.writerow(self(values))
        return _take(self.out)

    def __call__(self, values: Any) -> list[Any]:
        (id_, at, type_, actor_id, from_phase, to_phase, reason, evidence, payload, prev_hash, hash_, slug, wijk,
         gemeente) = values
        people = self.people
        actor = self.actors.get(actor_id)
        if actor is None:
            ref = people[actor_id]
            actor = self.actors[actor_id] = (ref["name"], ref["email"]) if ref else (None, None)
        override, gate = "no", ""
        if payload and ('"gate"' in payload or '"override"' in payload):
            data = json.loads(payload)
            override = "yes" if data.get("override") else "no"
            if data.get("gate"):
                gate = self.gate_cell([{"key": c.get("key"), "met": c.get("met"), "by": people[c.get("person_id")],
                                        "evidence": c.get("evidence")} for c in data["gate"]])
        return [id_, self.local(at), slug, wijk, gemeente, type_, actor_id, actor[0], actor[1], from_phase, to_phase,
                reason, evidence, override, gate, payload or "{}", prev_hash, hash_]


_WINDOW_MARGIN = timedelta(days=7)


def _moment_offsets(tz: Any, first: datetime, last: datetime) -> tuple[tuple[datetime, datetime],
                                                                        list[tuple[datetime | None, int, str]]]:
    """_hour_offsets for PostgreSQL, where the old path converts each moment: the window as aware
    datetimes and each offset from the exact second it starts (found by bisection in its day)."""
    start = (min(first, last) - _WINDOW_MARGIN).replace(microsecond=0)  # zones change on whole seconds
    stop = max(first, last) + _WINDOW_MARGIN

    def offset(moment: datetime) -> int:
        off = moment.astimezone(tz).utcoffset()
        assert off is not None
        return int(off.total_seconds())

    def entry(moment: datetime) -> tuple[datetime, int, str]:
        return moment, offset(moment), moment.astimezone(tz).isoformat(timespec="seconds")[19:]

    offsets: list[tuple[datetime | None, int, str]] = [(None, *entry(start)[1:])]
    day = start
    while day < stop:
        next_day = min(day + timedelta(days=1), stop)
        if offset(next_day) != offsets[-1][1]:
            lo, hi = 0, int((next_day - day).total_seconds())
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if offset(day + timedelta(seconds=mid)) == offsets[-1][1] else (lo, mid)
            offsets.append(entry(day + timedelta(seconds=hi)))
        day = next_day
    return (start, stop), offsets


def _hour_offsets(tz: Any, first: str, last: str) -> tuple[tuple[str, str], list[tuple[str | None, int, str]]]:
    """For SQLite's lines: the window of UTC hours around the first and the last event ([from, to) as
    'YYYY-MM-DD HH'), and the offsets in force in it by UTC hour, as _LocalTime computes them.

    Offsets are looked up a day apart and per hour only across a day where they changed: no zone
    changes its offset and back within one day. Events outside the window (a clock set wrong)
    are left to Python, so the window only needs to hold nearly all of them.
    """
    hour = timedelta(hours=1)

    def at_hour(text: str) -> datetime:
        return datetime.fromisoformat(text[:13] + ":00").replace(tzinfo=UTC)

    start = min(at_hour(first), at_hour(last)) - _WINDOW_MARGIN
    stop = max(at_hour(first), at_hour(last)) + _WINDOW_MARGIN + hour

    def offset(moment: datetime) -> int:
        off = moment.astimezone(tz).utcoffset()
        assert off is not None
        return int(off.total_seconds())

    def suffix(seconds: int) -> str:
        minutes = seconds // 60
        sign = "+" if minutes >= 0 else "-"
        return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"

    def text(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%d %H")

    offsets: list[tuple[str | None, int, str]] = [(None, offset(start), suffix(offset(start)))]
    day = start
    while day < stop:
        next_day = min(day + timedelta(days=1), stop)
        if offset(next_day) != offsets[-1][1]:
            h = day + hour
            while h <= next_day:
                if offset(h) != offsets[-1][1]:
                    offsets.append((text(h), offset(h), suffix(offset(h))))
                h += hour
        day = next_day
    return (text(start), text(stop)), offsets


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
