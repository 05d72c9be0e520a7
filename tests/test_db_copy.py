"""`wijkflow db copy --to URL`: everything moved into an empty database, ids and history intact.

The source is always a SQLite file (the embedded default people move away from); the target
is the test's database: another SQLite file, and PostgreSQL when --postgres is given.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from conftest import ADMIN, PL, SG1, SG2, WR

from wijkflow import migrations, services
from wijkflow.app import App
from wijkflow.services import audit as audit_service

KEYS = ("coalitie", "analyse_visie", "lokaal_contract", "instrumenten_financiering")


@pytest.fixture
def source(tmp_path: Path, clock) -> str:
    """A SQLite database with people, two aanpakken, a passed gate, reminders and an erased person."""
    path = str(tmp_path / "bron.db")
    app = App.open(path, clock=clock)
    app.db.init()
    services.add_person(app, ADMIN, name="Ada Admin", role="admin")
    for email, name in ((PL, "Fleur Mensink"), (WR, "Erna Biezenaar"), (SG1, "Robert Olde Heuvel"),
                        (SG2, "Jennifer Havinga"), ("weg@hengelo.example", "Wim Weg")):
        services.add_person(app, email, name=name, acting=ADMIN)
    for name, wijk in (("Wijkaanpak Noord", "Noord"), ("Wijkaanpak Zuid", "Zuid")):
        services.create_aanpak(app, name, wijk=wijk, gemeente="Hengelo", leader=PL, coordinators=(WR,),
                               approvers=(SG1, SG2), acting=PL)
    for key in KEYS:
        clock.forward(1)
        services.complete(app, "wijkaanpak-noord", key, evidence=f"{key}.pdf", acting=PL)
    services.set_deadline(app, "wijkaanpak-zuid", "coalitie", "2026-09-01", acting=PL)
    services.approve(app, "wijkaanpak-noord", "lokaal_contract_akkoord", acting=SG1)
    services.advance(app, "wijkaanpak-noord", acting=PL, reason="Lokaal contract getekend")
    services.add_indicator(app, "wijkaanpak-noord", "bewoners", label="Actieve bewoners", baseline=40, acting=WR)
    services.measure(app, "wijkaanpak-noord", "bewoners", "44", acting=WR)
    services.forget_person(app, "weg@hengelo.example", acting=ADMIN)
    app.close()
    return path


def snapshot(url: str, clock) -> dict:
    """What a user sees, read through the services: equal on both engines when the copy is whole."""
    app = App.open(url, clock=clock)
    try:
        return {
            "people": services.list_people(app),
            "aanpakken": services.list_aanpakken(app),
            "noord": services.show_aanpak(app, "wijkaanpak-noord"),
            "history": services.history(app, "wijkaanpak-noord"),
            "zuid": services.history(app, "wijkaanpak-zuid"),
            "indicators": services.progress(app, "wijkaanpak-noord"),
            "head": audit_service.head(app),
        }
    finally:
        app.close()


def test_copy_moves_everything_and_the_history_verifies(source, db_url, clock, run):
    before = snapshot(source, clock)
    r = run("db", "copy", "--to", db_url, env={"WIJKFLOW_DATABASE_URL": source})
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == f"Copied 59 rows in 10 tables from {source} to {App.open(db_url).db.where}."
    assert lines[1] == (f"The copied history verifies: {before['head']['events']} events, head "
                        f"{before['head']['hash']} (same as the source).")
    assert r.stderr == ""  # no progress bar when stderr is not a terminal
    assert snapshot(db_url, clock) == before  # origins too (revision 0008): every event's history entry has one
    assert all(e["origin"]["via"] == "cli" for e in before["history"])
    # The copy is a working database: new ids follow the copied ones (PostgreSQL sequences reset).
    copy = App.open(db_url, clock=clock)
    p = services.add_person(copy, "nieuw@hengelo.example", name="Nieuwe Collega", acting=ADMIN)
    assert p["id"] == 7
    services.complete(copy, "wijkaanpak-zuid", "coalitie", evidence="convenant.pdf", acting=PL)
    assert audit_service.verify(copy)["checked"] == before["head"]["events"] + 2
    assert copy.db.revision() == migrations.head()
    copy.close()


def test_a_target_with_wijkflow_data_is_refused_and_left_as_it_was(source, db_url, db_state, clock, run):
    target = App.open(db_url, clock=clock)
    target.db.init()
    services.add_person(target, "iemand@elders.example", name="Iemand")
    target.close()
    before = db_state()
    r = run("db", "copy", "--to", db_url, env={"WIJKFLOW_DATABASE_URL": source})
    assert r.exit_code == 6
    assert r.stderr.startswith("Error: The database at ") and r.stderr.endswith(
        "already holds wijkflow data (table audit_event); copy only into an empty database. Nothing was written.\n")
    assert db_state() == before


def test_an_initialised_but_empty_target_is_accepted(source, db_url, clock, run):
    target = App.open(db_url, clock=clock)
    target.db.init()
    target.close()
    r = run("db", "copy", "--to", db_url, env={"WIJKFLOW_DATABASE_URL": source})
    assert r.exit_code == 0, r.stderr
    assert snapshot(db_url, clock) == snapshot(source, clock)


def test_a_source_on_an_old_schema_must_be_upgraded_first(tmp_path, db_url, db_state, clock, run):
    old = str(tmp_path / "oud.db")
    app = App.open(old, clock=clock)
    app.db.upgrade("0001")
    app.close()
    before = db_state()
    r = run("db", "copy", "--to", db_url, env={"WIJKFLOW_DATABASE_URL": old})
    head = migrations.head()
    assert (r.exit_code, r.stderr) == (2, f"Error: The database at {old} is at schema revision 0001, not {head}; "
                                          "run `wijkflow db upgrade` first.\n")
    assert db_state() == before


def test_copying_a_database_onto_itself_is_refused(source, run):
    r = run("db", "copy", "--to", source, env={"WIJKFLOW_DATABASE_URL": source})
    assert (r.exit_code, r.stderr) == (2, "Error: The target is the database being copied; give another --to.\n")


def test_a_target_directory_that_does_not_exist(source, tmp_path, run):
    r = run("db", "copy", "--to", str(tmp_path / "nergens" / "kopie.db"), env={"WIJKFLOW_DATABASE_URL": source})
    assert r.exit_code == 2 and r.stderr.startswith("Error: The database directory ")
    assert not (tmp_path / "nergens").exists()


def test_an_unreachable_or_foreign_target(source, run):
    r = run("db", "copy", "--to", "postgresql+psycopg://wijkflow:x@127.0.0.1:1/wijkflow",
            env={"WIJKFLOW_DATABASE_URL": source})
    assert r.exit_code == 2 and r.stderr.startswith("Error: Cannot reach the database at 127.0.0.1:1/wijkflow")
    r = run("db", "copy", "--to", "mysql://root@127.0.0.1/wijkflow", env={"WIJKFLOW_DATABASE_URL": source})
    assert (r.exit_code, r.stderr) == (2, "Error: wijkflow stores its data in SQLite or PostgreSQL, not at "
                                          "127.0.0.1/wijkflow; give a SQLite path or a postgresql+psycopg:// URL.\n")


def test_rows_stream_in_batches_with_progress(source, tmp_path, clock):
    from wijkflow.services.schema import copy_database

    seen: list[int] = []
    totals: list[int] = []
    app = App.open(source, clock=clock)
    r = copy_database(app, str(tmp_path / "kopie.db"), batch=10, start=totals.append, progress=seen.append)
    app.close()
    assert totals == [r["rows"]] == [sum(seen)]
    assert max(seen) == 10 and len(seen) > r["rows"] // 10


def test_and_back_again(source, db_url, tmp_path, clock, run):
    """Copying the copy (PostgreSQL -> SQLite when --postgres is given) gives the same database again."""
    assert run("db", "copy", "--to", db_url, env={"WIJKFLOW_DATABASE_URL": source}).exit_code == 0
    back = str(tmp_path / "terug.db")
    r = run("db", "copy", "--to", back)
    assert r.exit_code == 0, r.stderr
    assert snapshot(back, clock) == snapshot(source, clock)


def tamper(path: str) -> None:
    """Edit event #3 in the SQLite source past its append-only trigger, as someone with the file could."""
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER audit_event_append_only_update")
    conn.execute("UPDATE audit_event SET reason = 'herschreven' WHERE id = 3")
    conn.commit()
    conn.close()


def test_a_copy_that_does_not_verify_leaves_the_target_as_it_was_and_a_retry_works(source, db_url, db_state,
                                                                                   clock, run):
    """Before: the copy committed first and verified after, so a failed copy left the target full and
    the retry was refused with exit 6 ("already holds wijkflow data")."""
    target = App.open(db_url, clock=clock)
    target.db.init()
    target.close()
    before = db_state()
    tamper(source)
    r = run("db", "copy", "--to", db_url, env={"WIJKFLOW_DATABASE_URL": source})
    assert r.exit_code == 7
    assert r.stderr.startswith("Error: The copied history does not verify: Event #3 ")
    assert r.stderr.endswith("; nothing was written to the target.\n")
    assert db_state() == before
    r = run("db", "copy", "--to", db_url, env={"WIJKFLOW_DATABASE_URL": source})
    assert r.exit_code == 7, "the same refusal again, not exit 6"


def test_a_failed_copy_to_a_new_sqlite_file_leaves_no_file(source, tmp_path, run):
    tamper(source)
    target = tmp_path / "kopie.db"
    r = run("db", "copy", "--to", str(target), env={"WIJKFLOW_DATABASE_URL": source})
    assert r.exit_code == 7
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("kopie")) == []
