"""Spreadsheets are Dutch: `--format csv-excel` for Excel in nl-NL, and `import` of what Excel writes.

The round trips go through a real spreadsheet: LibreOffice (headless, Debian's
libreoffice-calc-nogui) opens the CSV as nl-NL Excel would (`;`, decimal comma, dd-mm-yyyy) and
saves it as .xlsx, which openpyxl reads; and an analyst's .xlsx (written with openpyxl) is saved by
LibreOffice as a `;`-separated Windows-1252 CSV, which `wijkflow import` reads.
"""

import json
import os
import shutil
import subprocess
from datetime import datetime

import openpyxl
import pytest
from conftest import ADMIN, PL, WR, wijkflow_command

from wijkflow import services

SOFFICE = shutil.which("soffice")
needs_soffice = pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed")
NAME = "Wijkaanpak Één – Noord/café"


@pytest.fixture
def measured(app, people):
    services.create_aanpak(app, NAME, wijk="Berflo Es", gemeente="Hengelo", leader=PL, coordinators=(WR,),
                           acting=PL)
    slug = "wijkaanpak-een-noord-cafe"
    services.add_indicator(app, slug, "actieve_bewoners", from_catalogue=True, baseline="12,5",
                           baseline_date="2025-09-01", target="20.25", target_date="2027-12-31", acting=PL)
    services.measure(app, slug, "actieve_bewoners", "-0.75", on="2026-01-10", source="=cmd|' /C calc'!A0",
                     acting=PL)
    return slug


def test_csv_excel_is_semicolons_decimal_commas_bom_and_dutch_dates(run, measured, db_url):
    raw = subprocess.run([*wijkflow_command(), "indicators", measured, "--format", "csv-excel"], capture_output=True,
                         env={**os.environ, "WIJKFLOW_DATABASE_URL": db_url}, check=True).stdout
    assert raw.startswith("\ufeffkey;label;unit;".encode()) and raw.count(b"\r\n") == 2  # CRLF, as Excel writes
    r = run("indicators", measured, "--format", "csv-excel")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout[1:].splitlines()
    cells = dict(zip(lines[0].split(";"), lines[1].split(";"), strict=True))
    assert (cells["baseline"], cells["target"], cells["latest"]) == ("12,5", "20,25", "-0,75")
    assert (cells["baseline_date"], cells["target_date"], cells["latest_date"]) == (
        "01-09-2025", "31-12-2027", "10-01-2026")
    assert cells["latest_source"] == "'=cmd|' /C calc'!A0"  # a formula stays text, as in --format csv

    plain = run("indicators", measured, "--format", "csv").stdout  # RFC 4180 stays as it was
    assert plain.startswith("key,label,") and ",12.5,2025-09-01," in plain and "\r" not in plain

    listed = run("list", "--format", "csv-excel").stdout
    assert listed.startswith("\ufeffid;slug;name;") and f";{NAME};" in listed
    history = run("history", measured, "--format", "csv-excel").stdout.splitlines()
    assert history[1].split(";")[1] == "02-03-2026 09:00:00"  # the local time, as a date-time cell


@needs_soffice
def test_an_analyst_opens_the_export_in_a_spreadsheet_with_accents_and_decimals_intact(sh, run, measured,
                                                                                       tmp_path):
    for what, args in (("indicators", ("indicators", measured)), ("list", ("list",))):
        path = tmp_path / f"{what}.csv"
        r = sh(*args, "--format", "csv-excel", env={"WIJKFLOW_NOW": "2026-03-02T10:00:00+01:00"})
        assert r.returncode == 0, r.stderr
        path.write_text(r.stdout, encoding="utf-8")
        # as Excel in nl-NL opens it: `;`, UTF-8 (charset token 76), Dutch (1043) numbers and dates
        _soffice(tmp_path, "xlsx", path, infilter="CSV:59,34,76,1,,1043")
    ws = openpyxl.load_workbook(tmp_path / "indicators.xlsx").active
    head, row = list(ws.iter_rows(values_only=True))[:2]
    cells = dict(zip(head, row, strict=True))
    assert (cells["baseline"], cells["target"], cells["latest"]) == (12.5, 20.25, -0.75)  # numbers, not text
    assert (cells["baseline_date"], cells["latest_date"]) == (datetime(2025, 9, 1), datetime(2026, 1, 10))
    assert cells["label"] == "Inwoners actief in de wijk"
    ws = openpyxl.load_workbook(tmp_path / "list.xlsx").active
    head, row = list(ws.iter_rows(values_only=True))[:2]
    assert dict(zip(head, row, strict=True))["name"] == NAME


@needs_soffice
def test_a_portfolio_saved_by_a_dutch_spreadsheet_as_csv_is_imported(run, app, people, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["name", "wijk", "gemeente", "gemeente_code", "wijk_code", "buurt_codes", "phase", "since",
               "leader", "coordinators", "indicators"])
    ws.append(["Wijkaanpak Noord", "Noord", "Hengelo", "GM0164", "WK016401", "BU01640102 | BU01640103",
               "execute", "2025-09-01", PL, f"{WR} | Zoë Çelik <zoe@hengelo.example>",
               "actieve_bewoners=12,5->20 | veiligheidsbeleving=6,1->7"])
    ws.append(["Berflo Es; Twekkelerveld", "Berflo Es", "Hengelo", "", "", "BU01640301", "", "", PL, "", ""])
    wb.save(tmp_path / "portfolio.xlsx")
    # "CSV (gescheiden door lijstscheidingsteken)" on a Dutch Windows: `;` and Windows-1252 (charset token 1)
    _soffice(tmp_path, "csv:Text - txt - csv (StarCalc):59,34,1,1", tmp_path / "portfolio.xlsx")
    data = (tmp_path / "portfolio.csv").read_bytes()
    assert "Zoë Çelik".encode("cp1252") in data and data.splitlines()[0].count(b";") == 10

    r = run("import", str(tmp_path / "portfolio.csv"), user=ADMIN)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[1] == "Read as Windows-1252, cells separated by ';'."
    shown = json.loads(run("show", "wijkaanpak-noord", "--format", "json").stdout)
    assert shown["areas"]["buurt_codes"] == ["BU01640102", "BU01640103"]
    assert {p["name"] for p in shown["people"]} >= {"Zoë Çelik"}
    inds = json.loads(run("indicators", "wijkaanpak-noord", "--format", "json").stdout)
    assert [(i["baseline"], i["target"]) for i in inds] == [(12.5, 20.0), (6.1, 7.0)]
    assert [a["name"] for a in json.loads(run("list", "--area", "WK016403", "--format", "json").stdout)] == [
        "Berflo Es; Twekkelerveld"]


@pytest.mark.parametrize("encoding, bom, separator, said", [
    ("utf-8", True, ",", "Read as UTF-8 with BOM, cells separated by ','."),
    ("utf-8", False, ";", "Read as UTF-8, cells separated by ';'."),
    ("cp1252", False, ";", "Read as Windows-1252, cells separated by ';'."),
])
def test_import_reads_each_encoding_and_separator_and_says_which(run, app, people, tmp_path, encoding, bom,
                                                                 separator, said):
    rows = [["name", "wijk", "gemeente", "leader", "coordinators", "buurt_codes"],
            ["Wijkaanpak Één", "Noord", "Hengelo", PL, f"{WR}|{PL}", "BU01640102|BU01640103"]]
    text = "\r\n".join(separator.join(r) for r in rows) + "\r\n"
    path = tmp_path / "p.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    r = run("import", str(path), user=PL)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[1] == said
    shown = json.loads(run("show", "wijkaanpak-een", "--format", "json").stdout)
    assert shown["name"] == "Wijkaanpak Één" and shown["areas"]["wijk_code"] is None
    assert sorted(p["email"] for p in shown["people"] if p["role"] == "coordinator") == sorted([WR, PL])


def test_a_semicolon_list_in_an_unquoted_cell_of_a_semicolon_file_is_refused_and_nothing_written(
        run, app, people, tmp_path, db_state):
    path = tmp_path / "p.csv"
    path.write_text(f"name;wijk;leader;coordinators\nNoord;Noord;{PL};{WR};{PL}\n", encoding="utf-8")
    before = db_state()
    r = run("import", str(path), user=PL)
    assert r.exit_code == 2
    assert "line 2: 5 cells where the header has 4" in r.stderr
    path.write_bytes(b"name;wijk;leader\nNoord;Noord\x81;x@y.nl\n")  # 0x81: undefined in Windows-1252
    r = run("import", str(path), user=PL)
    assert r.exit_code == 2 and r.stderr.startswith(f"Error: {path} is neither UTF-8 nor Windows-1252 (")
    assert db_state() == before


def _soffice(workdir, convert_to, path, infilter=None):
    """LibreOffice headless, with a profile of its own in `workdir` (never the user's)."""
    args = [SOFFICE, "--headless", f"-env:UserInstallation=file://{workdir}/lo-profile",
            *([f"--infilter={infilter}"] if infilter else []), "--convert-to", convert_to,
            "--outdir", str(workdir), str(path)]
    subprocess.run(args, check=True, capture_output=True, timeout=120)
