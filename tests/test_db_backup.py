"""`wijkflow db backup FILE`, and SQLite's integrity check before `audit verify`, `init` and a backup.

The backup under concurrent writes, and its restore on SQLite and PostgreSQL, is in
tests/reliability/test_rel_backup.py; here: what is refused, and a damaged file.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from wijkflow.app import App
from wijkflow.services import audit as audit_service


def damage(path: Path) -> None:
    """Change the row an index entry points to, in an index `audit verify` never reads (aanpak by wijk),
    as a copy that caught a half-written journal can have it: every event still reads and chains,
    and the file is broken ("row 1 missing from index")."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    root, size = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'ix_aanpak_wijk'").fetchone()[0], \
        conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with path.open("r+b") as fh:
        fh.seek(root * size - 1)  # the last byte of the page: the end of its first cell, the row id
        last = fh.read(1)[0]
        fh.seek(root * size - 1)
        fh.write(bytes([last ^ 0x04]))
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone() != ("ok",)


@pytest.fixture
def damaged(db_path: Path, aanpak, app, tmp_path) -> Path:
    app.close()
    copy = tmp_path / "kapot.db"
    shutil.copyfile(db_path, copy)
    damage(copy)
    return copy


@pytest.mark.sqlite_only
@pytest.mark.parametrize("argv", [["audit", "verify"], ["init"], ["db", "upgrade"]])
def test_a_damaged_file_is_refused_before_anything_else(damaged, run, argv):
    before = damaged.read_bytes()
    r = run(*argv, env={"WIJKFLOW_DATABASE_URL": str(damaged)})
    assert r.exit_code == 2, r.stdout
    assert r.stderr.startswith(f"Error: The database file at {damaged} is damaged (SQLite's integrity check: ")
    assert r.stderr.endswith("nothing was written: restore it from a backup (`wijkflow db backup`).\n")
    assert r.stderr.count("\n") == 1
    assert damaged.read_bytes() == before


@pytest.mark.sqlite_only
def test_a_damaged_database_gives_no_backup(damaged, run, tmp_path):
    r = run("db", "backup", str(tmp_path / "b.db"), env={"WIJKFLOW_DATABASE_URL": str(damaged)})
    assert r.exit_code == 2
    assert r.stderr.startswith("Error: The backup did not pass SQLite's integrity check, so it was not kept: ")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith((".wijkflow", "b.db"))) == []


@pytest.mark.sqlite_only
def test_a_backup_is_a_sound_single_file_with_the_head_to_keep(db_path, aanpak, app, run, tmp_path):
    target = tmp_path / "backups" / "wijkflow-2026-03-02.db"
    target.parent.mkdir()
    r = run("db", "backup", str(target))
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == f"Backed up {db_path} to {target} ({target.stat().st_size:,} bytes)."
    assert lines[1].startswith("The backup passes SQLite's integrity check and its history verifies: ")
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]  # no -wal, no temporary file
    assert sqlite3.connect(target).execute("PRAGMA journal_mode").fetchone() == ("delete",)
    made = json.loads(run("db", "backup", str(target), "--force", "--format", "json").stdout)
    copy = App.open(str(target))
    assert audit_service.head(copy)["hash"] == made["head_hash"] == audit_service.head(app)["hash"]
    copy.close()


@pytest.mark.sqlite_only
def test_refused_targets_leave_everything_as_it_was(db_path, aanpak, run, tmp_path):
    other = tmp_path / "iets.db"
    other.write_bytes(b"niet van wijkflow")
    for target, why in ((str(other), f"{other} already exists; give --force to replace it, or choose another name."),
                        (str(db_path), f"{db_path} is wijkflow's database (or its journal); choose another name "
                                       "for the backup."),
                        (f"{db_path}-wal", f"{db_path}-wal is wijkflow's database (or its journal); choose another "
                                           "name for the backup."),
                        (str(tmp_path / "nergens" / "b.db"), f"The directory {tmp_path / 'nergens'} does not "
                                                             "exist; nothing was written.")):
        r = run("db", "backup", target)
        assert (r.exit_code, r.stderr) == (2, f"Error: {why}\n")
    assert other.read_bytes() == b"niet van wijkflow"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".wijkflow-backup")]


def test_postgresql_is_backed_up_with_pg_dump(db_engine, app, run, tmp_path):
    if db_engine != "postgresql":
        pytest.skip("the PostgreSQL refusal")
    r = run("db", "backup", str(tmp_path / "b.db"))
    assert (r.exit_code, r.stderr) == (2, "Error: wijkflow db backup copies a SQLite file; back up PostgreSQL with "
                                          "pg_dump (pg_dump --format=custom --file=wijkflow.dump DATABASE; README: "
                                          "\"Backups\").\n")
    assert not (tmp_path / "b.db").exists()
