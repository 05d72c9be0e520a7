"""The fast CSV export (the database builds each line) gives exactly the bytes of the csv.writer path."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from conftest import ADMIN, PL, SG1, SG2, WR

from wijkflow import services
from wijkflow.app import App
from wijkflow.cli.audit_commands import QUERY_CSV, _gate_cell
from wijkflow.services import audit_export
from wijkflow.services.audit_export import _hour_offsets, _moment_offsets, csv_chunks, csv_rows

INITIATE = ("coalitie", "analyse_visie", "lokaal_contract", "instrumenten_financiering")


def gate_cell(gate):
    return _gate_cell({"gate": gate})


def by_csv_writer(app: App, **filters) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(csv_rows(app, gate_cell=gate_cell, **filters))
    return out.getvalue()


def by_chunks(app: App, **filters) -> str:
    return "".join(text for _, text in csv_chunks(app, gate_cell=gate_cell, **filters))


def raw_event(conn: sa.Connection, at: str, **cols) -> None:
    """An event written straight into the table, with whatever a tamperer or an old version left."""
    next_id = conn.execute(sa.text("SELECT coalesce(max(id), 0) + 1 FROM audit_event")).scalar()
    values = {"id": next_id, "type": "note", "actor_id": None, "aanpak_id": None, "from_phase": None, "to_phase": None,
              "reason": None, "evidence": None, "payload": "{}", "prev_hash": "0" * 64, "hash": "f" * 64, **cols}
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


@pytest.fixture(params=["one process", "split"])
def split(request, monkeypatch):
    """Also with the work shared with a forked process, by blocks of 4 event ids."""
    if request.param == "split":
        monkeypatch.setattr(audit_export, "SPLIT_BLOCK", 4)


def test_the_fast_export_writes_exactly_what_csv_writer_wrote(app, tricky, split):
    old = by_csv_writer(app)
    assert old.count("(forgotten person)") >= 1 and '"Olde Heuvel, ""Rob""\nvan Welbions"' in old
    assert ",yes," in old and "lokaal_contract_akkoord: met by (forgotten person)" in old and "\r" in old
    assert by_chunks(app) == old


@pytest.mark.parametrize("filters", [
    {"aanpak": "wijkaanpak-noord"}, {"wijk": 'Zuid, "De Kop"'}, {"actor": PL}, {"types": ("phase_changed",)},
    {"since": "2026-03-29", "until": "2026-10-25"}, {"phase": "design"},
])
def test_the_fast_export_keeps_every_filter(app, tricky, split, filters):
    old = by_csv_writer(app, **filters)
    assert old
    assert by_chunks(app, **filters) == old


@pytest.mark.parametrize("zone", ["America/St_Johns", "Asia/Kathmandu", "UTC"])
def test_the_fast_export_in_zones_with_half_hours_and_without_dst(db_url, clock, tmp_path, tricky, split, zone):
    other = App.open(db_url, clock=clock, outbox_dir=str(tmp_path / "outbox"), timezone=zone)
    try:
        old = by_csv_writer(other)
        assert by_chunks(other) == old
    finally:
        other.close()


def test_the_command_writes_the_header_and_the_same_rows(app, tricky, split, run):
    r = run("audit", "query", "--format", "csv")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ",".join(QUERY_CSV) + "\n" + by_csv_writer(app)
    r = run("audit", "query", "--format", "csv", "--aanpak", "wijkaanpak-noord", "--type", "nothing_like_it")
    assert r.exit_code == 2 and r.stdout == ""


def test_small_batches_and_an_empty_history(app):
    assert by_chunks(app) == by_csv_writer(app) == ""
    services.add_person(app, ADMIN, name="Ada, Admin", role="admin")
    assert by_csv_writer(app).count("\n") == 1
    assert "".join(t for _, t in csv_chunks(app, gate_cell=gate_cell, batch=1)) == by_csv_writer(app)


def test_offsets_follow_the_utc_hour_of_each_dst_change():
    from zoneinfo import ZoneInfo

    window, offsets = _hour_offsets(ZoneInfo("Europe/Amsterdam"), "2026-01-05 08:00:00.000000",
                                    "2026-12-18 13:20:00.000000")
    assert window == ("2025-12-29 08", "2026-12-25 14")
    assert offsets == [(None, 3600, "+01:00"), ("2026-03-29 01", 7200, "+02:00"), ("2026-10-25 01", 3600, "+01:00")]


def test_the_database_writes_the_lines_and_leaves_python_only_the_rare_rows(app, tricky):
    from wijkflow import rawsql, store

    sqlite = app.db.engine.dialect.name == "sqlite"
    with app.db.read() as conn:
        _, first, _, last = store.audit_ends(conn)
        window, offsets = (_hour_offsets if sqlite else _moment_offsets)(app.tz, first, last)
        sql, params = store.audit_csv_lines_sql(conn, offsets=offsets, window=window)
        lines = [v[0] for chunk in rawsql.batches(conn, sql, **params) for v in chunk]
    for_python = [line for line in lines if line.startswith("[")]
    # two phase changes (gate; override), '{"x":"gate"}', '{"override":true}', 2001, the 'T'
    assert len(for_python) == (6 if sqlite else 5), "\n".join(line[:70] for line in for_python)
    assert len(lines) > 20 and any('"één, “twee”"' in line for line in lines)  # a quoted cell, in SQL


def test_a_failed_helper_process_is_an_error_not_a_short_file(app, tricky, monkeypatch):
    if app.db.engine.dialect.name != "sqlite":
        pytest.skip("only SQLite's export is shared with a forked process")
    monkeypatch.setattr(audit_export, "SPLIT_BLOCK", 4)
    monkeypatch.setattr(audit_export.struct, "pack", None)  # the child fails on its first block
    with pytest.raises(audit_export.StorageError, match="helper process failed"):
        by_chunks(app)


def test_moment_offsets_start_on_the_exact_second_of_each_change():
    from zoneinfo import ZoneInfo

    first = datetime(2026, 1, 5, 8, 0, 0, 123456, tzinfo=UTC)
    window, offsets = _moment_offsets(ZoneInfo("Europe/Amsterdam"), first, datetime(2026, 12, 18, tzinfo=UTC))
    assert window[0] == datetime(2025, 12, 29, 8, 0, tzinfo=UTC)
    assert offsets == [(None, 3600, "+01:00"), (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), 7200, "+02:00"),
                       (datetime(2026, 10, 25, 1, 0, tzinfo=UTC), 3600, "+01:00")]
