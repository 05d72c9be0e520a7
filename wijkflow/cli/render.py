"""Turning service results into text for people, or JSON/CSV for scripts. No logic here."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

import click

from ..events import describe
from ..provenance import describe as describe_origin
from ..spreadsheet import EXCEL_BOM, EXCEL_DELIMITER, CsvWriter, excel_number, excel_text, spreadsheet_cell


def as_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return " | ".join(value)  # a list of codes or keys: `|`, as `import` reads lists in a cell
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def csv_cell(value: Any) -> str | None:
    """A value as a CSV cell for a spreadsheet: as _cell writes it, a would-be formula neutralised."""
    return spreadsheet_cell(_cell(value))


def excel_cell(value: Any) -> str | None:
    """A value as a cell of `--format csv-excel` (spreadsheet.py says what nl-NL Excel expects)."""
    if isinstance(value, float | int) and not isinstance(value, bool):
        return excel_number(value)
    return excel_text(_cell(value))


def csv_writer(out: Any, fmt: str) -> Any:
    """csv.writer for `csv` (RFC 4180 as Python writes it, `\n` line ends) or `csv-excel` (`;`, CRLF)."""
    if fmt == "csv-excel":
        return csv.writer(out, delimiter=EXCEL_DELIMITER, lineterminator="\r\n")
    return CsvWriter(out)  # also quotes a lone CR


def as_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str] | None = None, fmt: str = "csv") -> str:
    """`--format csv`, or with fmt="csv-excel" the nl-NL Excel flavour (BOM first)."""
    rows = list(rows)
    columns = list(columns or (rows[0].keys() if rows else []))
    cell = excel_cell if fmt == "csv-excel" else csv_cell
    buf = io.StringIO()
    if fmt == "csv-excel":
        buf.write(EXCEL_BOM)
    writer = csv_writer(buf, fmt)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(row.get(c)) for c in columns])
    return buf.getvalue()


def as_table(rows: Iterable[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """columns: (key, heading) pairs."""
    rows = list(rows)
    cells = [[_cell(r.get(k)).replace("\n", " ") for k, _ in columns] for r in rows]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, (_, h) in enumerate(columns)]
    widths = [min(w, 60) for w in widths]
    lines = ["  ".join(h.ljust(widths[i]) for i, (_, h) in enumerate(columns)).rstrip(),
             "  ".join("-" * w for w in widths)]
    for c in cells:
        lines.append("  ".join(_clip(v, widths[i]).ljust(widths[i]) for i, v in enumerate(c)).rstrip())
    return "\n".join(lines)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def emit(data: Any, fmt: str, *, table: Any = None, csv_rows: Iterable[dict[str, Any]] | None = None,
         csv_columns: Sequence[str] | None = None) -> None:
    """Print `data` as json, csv or a table. `table` is the text a person sees."""
    if fmt == "json":
        click.echo(as_json(data))
    elif fmt in ("csv", "csv-excel"):
        click.echo(as_csv(csv_rows if csv_rows is not None else data, csv_columns, fmt), nl=False)
    else:
        click.echo(table() if callable(table) else table)


MARK = {True: "[x]", False: "[ ]"}


def gate_lines(gate: dict[str, Any]) -> list[str]:
    lines = []
    for c in gate["criteria"]:
        mark = MARK[c["met"]] if not (c["optional"] and not c["met"]) else "[-]"
        extra = ""
        if c["met"] and c.get("by"):
            extra = f" by {c['by']['name'] or c['by']['email']}"
            if c.get("at"):
                extra += f" on {c['at'][:10]}"
        opt = " (optional)" if c["optional"] else ""
        lines.append(f"  {mark} {c['label']} [{c['key']}]{opt}: {c['why']}{extra}")
        if c.get("evidence"):
            lines.append(f"        evidence: {c['evidence']}")
    return lines


def describe_event(e: dict[str, Any]) -> str:
    """One line saying what an event was, for people (the event catalogue's `line` form).

    A measurement's events start with its number, which `measure --correct ID` / `--withdraw ID` take."""
    line = describe(e, "en", "line")
    number = (e.get("payload") or {}).get("measurement_id")
    return f"[#{number}] {line}" if number else line  # first: a long line is clipped in a table


def history_table(events: list[dict[str, Any]]) -> str:
    rows = [{"at": e["at"][:16].replace("T", " "), "who": (e["actor"] or {}).get("name") or "",
             "what": describe_event(e), "detail": e["reason"] or e["evidence"] or "",
             "via": describe_origin(e.get("origin"))} for e in events]
    return as_table(rows, [("at", "When"), ("who", "Who"), ("what", "What"), ("detail", "Why / evidence"),
                           ("via", "Origin")])
