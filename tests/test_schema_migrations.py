"""Migrations (Alembic) and `wijkflow db`: a database made by an older wijkflow, data in it, upgraded.

Revision 0001 is the first released schema (what `init` made with create_all before
migrations); 0002 adds an index. The old database is built at 0001 through the services,
then upgraded; nothing may be lost and the history must still verify.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from conftest import ADMIN, PL, SG1, SG2, WR
from sqlmodel import SQLModel

from wijkflow import migrations, services
from wijkflow.app import App
from wijkflow.services import audit as audit_service

# The newest revision: the chain itself is spelled out in test_db_history_lists_every_revision.
HEAD = migrations.head()

KEYS = ("coalitie", "analyse_visie", "lokaal_contract", "instrumenten_financiering")


def engine_for(db_url: str) -> sa.Engine:
    return sa.create_engine(db_url if "://" in db_url else f"sqlite:///{db_url}")


def downgrade(db_url: str, target: str) -> None:
    """Take the schema back to `target` with the revisions' own downgrades (Alembic)."""
    from alembic import command

    engine = engine_for(db_url)
    with engine.begin() as conn:
        command.downgrade(migrations._config(conn), target)
    engine.dispose()


def old_database(db_url: str, clock, *, stamped: bool = True) -> None:
    """A database at revision 0001 with a history in it, made through the services.

    The services of today read today's columns, so the history is made at the newest schema
    and then taken back to 0001 by the revisions' downgrades: what an old wijkflow left behind.
    stamped=False: as today's `init` made it before migrations (no alembic_version table).
    """
    app = App.open(db_url, clock=clock)
    app.db.init()
    services.add_person(app, ADMIN, name="Ada Admin", role="admin")
    for email, name in ((PL, "Fleur Mensink"), (WR, "Erna Biezenaar"), (SG1, "Robert Olde Heuvel"),
                        (SG2, "Jennifer Havinga")):
        services.add_person(app, email, name=name, acting=ADMIN)
    services.create_aanpak(app, "Wijkaanpak Noord", wijk="Noord", gemeente="Hengelo", leader=PL,
                           coordinators=(WR,), approvers=(SG1, SG2), acting=PL)
    for key in KEYS:
        clock.forward(1)
        services.complete(app, "wijkaanpak-noord", key, evidence=f"{key}.pdf", acting=PL)
    services.set_deadline(app, "wijkaanpak-noord", "coalitie", "2026-09-01", acting=PL)
    services.approve(app, "wijkaanpak-noord", "lokaal_contract_akkoord", acting=SG1)
    services.advance(app, "wijkaanpak-noord", acting=PL, reason="Lokaal contract getekend")
    services.add_indicator(app, "wijkaanpak-noord", "bewoners", label="Actieve bewoners", baseline=40, acting=WR)
    app.close()
    downgrade(db_url, "0001")
    if not stamped:
        engine = engine_for(db_url)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE alembic_version")
        engine.dispose()


def indexes(db_url: str, table: str) -> set[str]:
    engine = engine_for(db_url)
    try:
        with engine.connect() as conn:
            return {ix["name"] for ix in sa.inspect(conn).get_indexes(table)}
    finally:
        engine.dispose()


# Tables a later revision adds (empty after the upgrade): not part of what an old database held.
ADDED_LATER = {"alembic_version", "aanpak_area"}


def without_version(state):
    return [(t, rows) for t, rows in state if t not in ADDED_LATER]


# What the revisions after 0001 add to existing tables: table -> the values of its added columns in old rows
# (a callable: checks values a revision computed).
ADDED_COLUMNS = {"aanpak": ("active", None), "criterion_record": (None,), "measurement": (None, None, None),
                 # leaf (0005: computed, 64 hex), erased (0005: none), origin (0008: none, not known for old events)
                 "audit_event": lambda added: len(added[0]) == 64 and added[1:] == (None, None)}


def as_before(state, before):
    """`state` with the columns later revisions appended to old tables cut off, to compare rows."""
    width = {t: len(rows[0]) for t, rows in before if rows}
    out = []
    for t, rows in state:
        if t in width and rows and len(rows[0]) > width[t]:
            added = ADDED_COLUMNS[t]
            assert all(added(tuple(r[width[t]:])) if callable(added) else tuple(r[width[t]:]) == added
                       for r in rows), t
            rows = sorted((tuple(r[:width[t]]) for r in rows), key=repr)
        if t in dict(before):  # tables later revisions add are not compared
            out.append((t, rows))
    return out


def test_an_old_database_with_data_is_upgraded_and_nothing_is_lost(db_url, db_state, clock, sh):
    old_database(db_url, clock)
    before = db_state()
    assert "ix_audit_event_actor" not in indexes(db_url, "audit_event")
    r = sh("db", "current")
    assert r.returncode == 0 and r.stdout.rstrip().endswith(
        f"schema revision 0001; newest is {HEAD}: run `wijkflow db upgrade`.")

    r = sh("db", "upgrade")
    assert r.returncode == 0, r.stderr
    assert r.stdout.rstrip().endswith(f"from schema revision 0001 to {HEAD}.")
    # every row of every table, as it was (new columns hold their defaults)
    assert as_before(without_version(db_state()), before) == without_version(before)

    r = sh("db", "upgrade")
    assert r.returncode == 0, r.stderr
    assert "ix_audit_event_actor" in indexes(db_url, "audit_event")
    app = App.open(db_url, clock=clock)
    assert audit_service.verify(app)["checked"] == len(dict(before)["audit_event"]) > 10
    # The upgraded database keeps working: the next change lands on the chain.
    services.add_person(app, "nieuw@hengelo.example", name="Nieuwe Collega", acting=ADMIN)
    assert audit_service.verify(app)["checked"] == len(dict(before)["audit_event"]) + 1
    app.close()
    r = sh("db", "upgrade")
    assert r.stdout.rstrip().endswith(f"is up to date (schema revision {HEAD}).")


def test_init_recognises_a_database_made_before_migrations_and_stamps_it(db_url, db_state, clock, run):
    old_database(db_url, clock, stamped=False)
    before = db_state()
    assert "alembic_version" not in dict(before)
    r = run("db", "current")
    assert r.stdout.rstrip().endswith(f"schema revision 0001; newest is {HEAD}: run `wijkflow db upgrade`.")
    r = run("init")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[0].endswith(f"(schema revision 0001 to {HEAD}).")
    after = db_state()
    assert dict(after)["alembic_version"] == [(HEAD,)]
    assert as_before(without_version(after), before) == before
    r = run("init")
    assert r.stdout.startswith("Checked the wijkflow database")
    assert as_before(without_version(db_state()), before) == before
    r = run("init")


def test_a_new_database_equals_every_migration_run_from_the_first(db_url, tmp_path):
    """`init` makes a new database with create_all and stamps it; the migrations must make the same."""
    migrated = App.open(db_url)
    assert migrated.db.upgrade("0001") == (None, "0001")
    assert migrated.db.upgrade() == ("0001", HEAD)
    with migrated.db.read() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        sqlite = conn.dialect.name == "sqlite"
        triggers = (conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
                    if sqlite else conn.exec_driver_sql(
                        "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY tgname")).scalars().all()
    migrated.close()
    assert diff == []
    assert triggers == (["audit_event_append_only_delete", "audit_event_append_only_update"] if sqlite
                        else ["audit_event_append_only"])
    fresh = App.open(str(tmp_path / "fresh.db"))
    assert fresh.db.upgrade() == (None, HEAD)
    with fresh.db.read() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
    fresh.close()


def test_the_history_survives_an_upgrade_and_stays_append_only(db_url, clock):
    old_database(db_url, clock)
    app = App.open(db_url, clock=clock)
    app.db.upgrade()
    engine = engine_for(db_url)
    try:
        with engine.begin() as conn:
            try:
                conn.exec_driver_sql("UPDATE audit_event SET reason = 'anders' WHERE id = 1")
            except sa.exc.DBAPIError as err:
                assert "append-only" in str(err)
            else:
                raise AssertionError("the append-only trigger is gone after the upgrade")
    finally:
        engine.dispose()
    app.close()


def test_db_current_and_history_for_scripts(run, app):
    r = run("db", "current", "--format", "json")
    assert r.exit_code == 0 and f'"revision": "{HEAD}"' in r.stdout and '"up_to_date": true' in r.stdout
    r = run("db", "history", "--format", "csv")
    lines = r.stdout.splitlines()
    assert lines[0] == "revision,down_revision,description,current"
    assert lines[1].startswith("0001,,The first released schema") and lines[1].endswith(",no")
    assert lines[2].startswith('0002,0001,"Index audit events by actor') and lines[2].endswith(",no")
    assert lines[3].startswith('0003,0002,"The daily loop') and lines[3].endswith(",no")
    assert lines[4].startswith('0005,0003,"The verifiable audit log') and lines[4].endswith(",no")
    assert lines[5].startswith('0006,0005,"CBS area codes') and lines[5].endswith(",no")
    assert lines[6].startswith('0007,0006,"Signing in to the server') and lines[6].endswith(",no")
    assert lines[7].startswith('0008,0007,Where each change came from') and lines[7].endswith(",yes")
    assert [r.revision for r in migrations.history()] == ["0001", "0002", "0003", "0005", "0006", "0007", "0008"]
    assert migrations.head() == HEAD


def test_db_current_on_a_database_not_made_yet(tmp_path, run):
    r = run("db", "current", env={"WIJKFLOW_DATABASE_URL": str(tmp_path / "nog-niet.db")})
    assert r.exit_code == 0
    assert r.stdout.rstrip().endswith(f"no wijkflow tables yet (newest revision {HEAD}); run `wijkflow init`.")
    assert not (tmp_path / "nog-niet.db").exists()


def test_a_database_from_a_newer_wijkflow_is_left_alone(db_url, db_state, run, app):
    engine = engine_for(db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0099'")
    engine.dispose()
    before = db_state()
    r = run("db", "current")
    assert r.exit_code == 0 and r.stdout.rstrip().endswith(
        f"schema revision 0099, newer than this wijkflow knows (newest here {HEAD}); "
        "use the wijkflow that upgraded it.")
    for command in (("init",), ("db", "upgrade")):
        r = run(*command)
        assert (r.exit_code, r.stderr) == (2, "Error: The database is at schema revision 0099, which this wijkflow "
                                              f"does not know (newest here: {HEAD}): a newer wijkflow upgraded it; use "
                                              "that version.\n")
    assert db_state() == before


def test_what_init_made_before_migrations_upgrades_to_exactly_the_models(db_url):
    """Made the way `init` did before Alembic: create_all, the triggers, and no index of revision 0002."""
    from alembic import command

    from wijkflow.db import _POSTGRES_TRIGGERS, _SQLITE_TRIGGERS

    engine = engine_for(db_url)
    with engine.begin() as conn:
        SQLModel.metadata.create_all(conn)
        for ddl in _SQLITE_TRIGGERS if conn.dialect.name == "sqlite" else _POSTGRES_TRIGGERS:
            conn.exec_driver_sql(ddl)
        command.stamp(migrations._config(conn), "head")
    engine.dispose()
    downgrade(db_url, "0001")  # what the revisions after 0001 add, taken away by their own downgrades
    engine = engine_for(db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE alembic_version")
    engine.dispose()
    app = App.open(db_url)
    assert app.db.revision() == "0001"
    assert app.db.upgrade() == ("0001", HEAD)
    with app.db.read() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
    app.close()


# --- recognising a database by looking at it (issue 17) ---------------------------------------

FIRST_CORE = Path(__file__).resolve().parent / "data" / "upgrade" / "first-core.db"


def sqlite_tables(path) -> set[str]:
    con = sqlite3.connect(path)
    try:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        con.close()


def test_a_first_core_database_gets_the_tables_it_lacks_before_it_is_stamped(tmp_path, run):
    """The first core had 7 tables; stamping it 0001 because audit_event exists stranded it (no reminder table)."""
    db = tmp_path / "first-core.db"
    shutil.copyfile(FIRST_CORE, db)
    assert "reminder" not in sqlite_tables(db)
    r = run("init", env={"WIJKFLOW_DATABASE_URL": str(db)})
    assert r.exit_code == 0, r.stderr
    assert {"reminder", "reminder_message", "interpretation", "plan_point", "plan_partner", "plan_activity",
            "aanpak_theme", "intended_result", "party_approval"} <= sqlite_tables(db)
    r = run("reminders", "list", env={"WIJKFLOW_DATABASE_URL": str(db)})
    assert r.exit_code == 0, r.stderr


def test_a_database_an_older_wijkflow_stamped_without_its_tables_is_repaired(tmp_path, run):
    """What the old `init` left behind: stamped at its newest revision (0002), nine tables missing."""
    db = tmp_path / "stranded.db"
    shutil.copyfile(FIRST_CORE, db)
    con = sqlite3.connect(db)
    con.executescript("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);"
                      "INSERT INTO alembic_version VALUES ('0002');")
    con.close()
    r = run("init", env={"WIJKFLOW_DATABASE_URL": str(db)})
    assert r.exit_code == 0, r.stderr
    assert "reminder" in sqlite_tables(db)
    r = run("deadline", "wijkaanpak-zuid", "organisatiestructuur", "2026-09-01", user=PL,
            env={"WIJKFLOW_DATABASE_URL": str(db)})
    assert r.exit_code == 0, r.stderr


@pytest.mark.parametrize("ddl, named", [
    ("CREATE TABLE boekhouding (id INTEGER PRIMARY KEY)", "table boekhouding is not one of wijkflow's"),
    ("ALTER TABLE plan_point DROP COLUMN text", "table plan_point lacks column text"),
    ("ALTER TABLE person ADD COLUMN telefoon VARCHAR", "table person has a column telefoon wijkflow does not know"),
])
@pytest.mark.parametrize("stamped", [True, False])
def test_a_database_that_matches_no_revision_is_refused_and_left_alone(db_url, db_state, run, ddl, named, stamped):
    app = App.open(db_url)
    app.db.init()
    app.close()
    engine = engine_for(db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(ddl)
        if not stamped:
            conn.exec_driver_sql("DROP TABLE alembic_version")
    engine.dispose()
    before = db_state()
    for command in (("init",), ("db", "upgrade")):
        r = run(*command)
        assert r.exit_code == 2
        assert r.stderr.startswith("Error: The database's tables match no wijkflow schema revision (")
        assert named in r.stderr
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert db_state() == before
