"""Bulk output for large portfolios: rows streamed to stdout, a progress bar for a watching person.

The bar goes to stderr, and only when stderr is a terminal while stdout is not (the rows go to
a file or a pipe): never into a pipe, a log or the rows themselves.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

import click

from ..spreadsheet import EXCEL_BOM
from .render import csv_cell, csv_writer, excel_cell

LIST_CSV = ["id", "slug", "name", "wijk", "gemeente", "areas", "workflow", "phase", "phase_label",
            "days_in_phase", "stalled", "status"]


def show_progress() -> bool:
    return sys.stderr.isatty() and not sys.stdout.isatty()


def with_progress(rows: Iterator[Any], total: Any, label: str) -> Iterator[Any]:
    """`rows` unchanged; a click progress bar on stderr while they pass, when a person watches."""
    if not show_progress():
        yield from rows
        return
    with click.progressbar(length=total(), label=label, file=sys.stderr) as bar:
        for i, row in enumerate(rows, 1):
            yield row
            if i % 500 == 0:
                bar.update(500)
        bar.update(bar.length - bar.pos if bar.length else 0)


def stream_list(rows: Iterator[dict[str, Any]], fmt: str, *, total: Callable[[], int]) -> None:
    """`wijkflow list --format json|csv`, the same bytes as the buffered output, row by row.
    `total` counts the rows, for the progress bar (asked only when one is shown)."""
    first = next(rows, None)  # the filters are checked here: bad input fails before any output
    out = sys.stdout
    if first is None:
        out.write("[]\n" if fmt == "json" else "\n")
        out.flush()
        return
    rest = with_progress(rows, lambda: total() - 1, "Listing")
    if fmt in ("csv", "csv-excel"):
        cell = excel_cell if fmt == "csv-excel" else csv_cell
        if fmt == "csv-excel":
            out.write(EXCEL_BOM)
        writer = csv_writer(out, fmt)
        writer.writerow(LIST_CSV)
        writer.writerows([cell(r.get(c)) for c in LIST_CSV] for r in _chain(first, rest))
    else:
        out.write("[\n")
        for i, r in enumerate(_chain(first, rest)):
            out.write((",\n" if i else "") + "  " + json.dumps(r, indent=2, ensure_ascii=False,
                                                                default=str).replace("\n", "\n  "))
        out.write("\n]\n")
    out.flush()


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest
