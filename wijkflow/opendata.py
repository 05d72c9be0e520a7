"""Reading indicator figures from open-data files: CBS Kerncijfers wijken en buurten, the Leefbaarometer, CSV.

A file becomes a list of `Figure`s (a CBS area code, an indicator key, a value, the peildatum and
the year of the CBS indeling the code belongs to); services/measure_import.py matches them to
aanpakken. No database here.

    cbs             StatLine's CSV ("ID";"WijkenEnBuurten";"Gemeentenaam_1";"SoortRegio_2";"Codering_3";...)
                    or its OData JSON ({"odata.metadata": ".../85318NED/$metadata#...", "value": [{...}]}).
                    Codes come padded ("WK016401  "); a figure CBS keeps secret or lacks is "." (or
                    empty). Columns are numbered per year, so the mapping names them by stem.
    leefbaarometer  the Leefbaarometer 3.0 open data: bu_code|wk_code|gm_code, jaar, lbm, fys, onv, soc,
                    vrz, won. One file holds every meting year, all on the indeling of its latest meting.
    csv             code, [peildatum], [indeling], then one column per indicator.

Numbers may have a decimal point or a decimal comma. The column-to-indicator mapping ships in
data/open_data_mapping.yaml (documented there) and can be overridden per run.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from .areas import FORMS
from .definitions import _parse_yaml
from .errors import InvalidInput
from .spreadsheet import decode_text, sniff_separator
from .validation import parse_date

MAPPING_FILE = Path(__file__).resolve().parent / "data" / "open_data_mapping.yaml"
SOURCES = ("cbs", "leefbaarometer", "csv")
SOURCE_LABEL = {"cbs": "CBS Kerncijfers wijken en buurten", "leefbaarometer": "Leefbaarometer 3.0",
                "csv": "CSV"}
MISSING = {"", ".", "-", "x", "?", "null"}  # CBS: "." secret or unknown, "-" nil, "x" withheld
MAX_BYTES = 200 << 20  # a whole KWB year of every buurt is ~40 MB as JSON
_STEM = re.compile(r"^(?P<stem>.+?)_\d+$")
KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Figure:
    code: str
    key: str
    value: float
    peildatum: date
    indeling: int
    column: str


@dataclass
class Reading:
    """What a file held: the figures, and what was read (for the report)."""

    figures: list[Figure]
    rows: int
    columns: dict[str, str]  # file column -> indicator key, as used
    read_as: str


@cache
def shipped_mapping() -> dict[str, dict[str, str]]:
    data, _ = _parse_yaml(MAPPING_FILE.read_text(encoding="utf-8"), str(MAPPING_FILE))
    return {source: dict(data.get(source) or {}) for source in SOURCES}


def mapping(source: str, overrides: Iterable[str] = ()) -> dict[str, str]:
    """The shipped mapping of `source` with `--map COLUMN=KEY` overrides; an empty key leaves a column out."""
    out = dict(shipped_mapping()[source])
    for item in overrides:
        column, sep, key = item.partition("=")
        column, key = column.strip(), key.strip()
        if not sep or not column or (key and not KEY_RE.match(key)):
            raise InvalidInput(f"--map '{item}' is not COLUMN=KEY (an indicator key: lower-case letters, "
                               "digits and _; empty to leave the column out).")
        out[column] = key
    return out


def stem(column: str) -> str:
    m = _STEM.match(column)
    return m["stem"] if m else column


def number(text: Any) -> float | None:
    """A figure as published: None for CBS's missing marks, a float for 12.5 or 12,5; else refused."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    if text is None:
        return None
    s = str(text).strip()
    if s.lower() in MISSING:
        return None
    try:
        value = None if "," in s and "." in s else float(s.replace(",", "."))  # 1.234,5: not a published form
    except ValueError:
        value = None
    if value is None or value != value or value in (float("inf"), float("-inf")):
        raise InvalidInput(f"'{s}' is not a number")
    return value


def area_code(text: Any) -> str | None:
    """A CBS code as published (padded with spaces), or None for a row of another kind (NL, a landsdeel)."""
    code = str(text or "").strip().upper()
    return code if code[:2] in FORMS and FORMS[code[:2]].fullmatch(code) else None


def read(path: str | Path, source: str, *, year: int | None, peildatum: str | None,
         overrides: Iterable[str] = ()) -> Reading:
    """The figures in the file at `path`, read as `source`. Refused (InvalidInput, naming the file and
    the line) when the file is not what `source` says or a mapped cell is not a number."""
    if source not in SOURCES:
        raise InvalidInput(f"Source '{source}' is not known; use one of {', '.join(SOURCES)}.")
    path = Path(path)
    file = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"{file}: no such file.") from None
    except OSError as e:
        raise InvalidInput(f"{file} cannot be read ({e}).") from None
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"{file} is larger than {MAX_BYTES >> 20} MB; cut it to your gemeente first.")
    fixed_day = parse_date(peildatum, "--peildatum") if peildatum else None
    if year is not None and not 1900 <= year <= 2200:
        raise InvalidInput(f"--year {year} is not the year of a CBS indeling.")
    cols = mapping(source, overrides)
    if source == "cbs" and (path.suffix.lower() == ".json" or data.lstrip()[:1] == b"{"):
        records, read_as = _odata(data, file)
    else:
        text, encoding = decode_text(data, file)
        separator = sniff_separator(text)
        records, read_as = _csv(text, separator), f"CSV, {encoding}, cells separated by '{separator}'"
    if not records:
        raise InvalidInput(f"{file} holds no rows.")
    header = list(records[0][1])
    code_col = _code_column(source, header, file)
    used: dict[str, str] = {}
    for c in header:
        if c == code_col or c.lower() in ("peildatum", "indeling", "jaar"):
            continue
        if c in cols or stem(c) in cols:
            key = cols[c] if c in cols else cols[stem(c)]
        else:
            key = c if source == "csv" and KEY_RE.match(c) else ""
        if key:
            used[c] = key
    if not used:
        mapped = ", ".join(sorted(c for c, k in cols.items() if k)) or "none"
        raise InvalidInput(f"{file} has none of the columns mapped for {source} ({mapped}); "
                           "map one with --map COLUMN=KEY.")
    indeling = year if year is not None else _indeling(source, records, file)
    figures = []
    for line, row in records:
        code = area_code(row.get(code_col))
        if code is None:
            continue
        day = fixed_day or _row_day(source, row, indeling, file, line)
        row_indeling = indeling
        if source == "csv" and year is None and row.get("indeling"):
            row_indeling = _year(row["indeling"], file, line)
        for column, key in used.items():
            try:
                value = number(row.get(column))
            except InvalidInput as e:
                raise InvalidInput(f"{file}, line {line}, column {column}: {e}.") from None
            if value is not None:
                figures.append(Figure(code=code, key=key, value=value, peildatum=day, indeling=row_indeling,
                                      column=column))
    return Reading(figures=figures, rows=len(records), columns=used, read_as=read_as)


def _csv(text: str, separator: str) -> list[tuple[int, dict[str, str]]]:
    reader = csv.reader(io.StringIO(text), delimiter=separator)
    header = [h.strip() for h in next(reader, [])]
    out = []
    for record in reader:
        if any(cell.strip() for cell in record):
            out.append((reader.line_num, dict(zip(header, record, strict=False))))
    return out


def _odata(data: bytes, file: str) -> tuple[list[tuple[int, dict[str, Any]]], str]:
    """StatLine's OData JSON: {"value": [...]} (OData v3/v4) or {"d": {"results": [...]}} (verbose)."""
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidInput(f"{file} is not JSON ({e}).") from None
    rows = doc.get("value") if isinstance(doc, dict) else None
    if rows is None and isinstance(doc, dict) and isinstance(doc.get("d"), dict):
        rows = doc["d"].get("results")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise InvalidInput(f"{file} is not a StatLine OData data set (no \"value\" list of rows).")
    table = re.search(r"/odata/(\w+)/", str(doc.get("odata.metadata", "")))
    return [(i + 1, r) for i, r in enumerate(rows)], "OData JSON" + (f" of table {table[1]}" if table else "")


def _code_column(source: str, header: list[str], file: str) -> str:
    wanted = {"cbs": ["Codering", "WijkenEnBuurten"], "leefbaarometer": ["bu_code", "wk_code", "gm_code"],
              "csv": ["code"]}[source]
    for name in wanted:
        for column in header:
            if column == name or stem(column) == name or column.lower() == name.lower():
                return column
    raise InvalidInput(f"{file} has no column with the CBS area code (looked for "
                       f"{' or '.join(wanted)}); is it a {SOURCE_LABEL[source]} file?")


def _indeling(source: str, records: list[tuple[int, dict[str, Any]]], file: str) -> int:
    if source == "leefbaarometer":
        years = [_year(r.get("jaar"), file, line) for line, r in records if r.get("jaar")]
        if years:
            return max(years)  # every meting year is given on the indeling of the latest meting
    if source == "csv" and all(r.get("indeling") for _, r in records):
        return 0  # per row
    raise InvalidInput(f"{file}: say which year's CBS indeling its codes follow with --year "
                       + ("(the year of the Kerncijfers wijken en buurten, e.g. 2022)." if source == "cbs"
                          else "(or give an indeling column)."))


def _row_day(source: str, row: dict[str, Any], indeling: int, file: str, line: int) -> date:
    if source == "leefbaarometer" and row.get("jaar"):
        return date(_year(row["jaar"], file, line), 1, 1)
    if source == "csv" and row.get("peildatum"):
        try:
            return parse_date(str(row["peildatum"]).strip(), "peildatum")
        except InvalidInput as e:
            raise InvalidInput(f"{file}, line {line}: {e}") from None
    if source == "cbs":
        return date(indeling, 1, 1)  # the Kerncijfers count per 1 January of their year
    raise InvalidInput(f"{file}, line {line}: no peildatum; give a peildatum column or --peildatum DATE.")


def _year(value: Any, file: str, line: int) -> int:
    text = str(value).strip()
    if not text.isdigit() or not 1900 <= int(text) <= 2200:
        raise InvalidInput(f"{file}, line {line}: '{text}' is not a year.")
    return int(text)
