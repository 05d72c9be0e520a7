"""Backups of a database that is being written: made, checked, restored, and the restore proved.

SQLite: `wijkflow db backup FILE` while another process writes; restored by copying the file into
place. PostgreSQL: pg_dump while another process writes, pg_restore into a new database (README,
"Backups"). Both: the restored history verifies against the head kept at backup time, and it is
exactly the source's history up to that head.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import uuid

import pytest
import scenarios
import sqlalchemy as sa

BACKUPS = 2


def wijkflow(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*scenarios.wijkflow_command(), "--db", url, *args], capture_output=True, text=True,
                          env=scenarios.cli_env(url), timeout=120)


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def pg_backup_and_restore(url: str) -> tuple[str, str]:
    """README's recipe: keep the head, pg_dump, pg_restore into a new empty database. (head, restored url)"""
    kept = json.loads(wijkflow(url, "audit", "head", "--format", "json").stdout)["hash"]
    dump = subprocess.run(["pg_dump", "--format=custom", libpq(url)], capture_output=True, timeout=120, check=True)
    restored = url.rsplit("/", 1)[0] + f"/wijkflow_restored_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{restored.rsplit("/", 1)[1]}"')
    admin.dispose()
    subprocess.run(["pg_restore", "--no-owner", f"--dbname={libpq(restored)}"], input=dump.stdout,
                   capture_output=True, timeout=120, check=True)
    return kept, restored


def drop(url: str) -> None:
    admin = sa.create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    admin.dispose()


def test_backups_taken_while_another_process_writes_restore_to_the_same_history(db_url, db_engine, tmp_path):
    if db_engine == "postgresql" and not shutil.which("pg_dump"):
        pytest.skip("pg_dump is not installed")
    scenarios.seed(db_url, aanpakken=1)
    taken = []  # (head kept at backup time, restored database)
    with scenarios.Writer(db_url, tmp_path) as writer:
        for i in range(BACKUPS):
            if db_engine == "sqlite":
                r = wijkflow(db_url, "db", "backup", str(tmp_path / f"backup-{i}.db"), "--format", "json")
                assert r.returncode == 0 and r.stderr == "", r.stderr
                made = json.loads(r.stdout)
                assert made["integrity"] == "ok" and made["verified"] and made["events"] > 0
                # Restoring is copying the file into place: here, to a new name.
                restored = str(tmp_path / f"restored-{i}.db")
                shutil.copyfile(made["backup"], restored)
                taken.append((made["head_hash"], restored))
            else:
                taken.append(pg_backup_and_restore(db_url))
    assert writer.written > 0
    source = scenarios.chain(db_url)
    try:
        for kept, restored in taken:
            if db_engine == "sqlite":
                assert sqlite3.connect(restored).execute("PRAGMA integrity_check").fetchone() == ("ok",)
            r = wijkflow(restored, "audit", "verify", "--expect-head", kept)
            assert r.returncode == 0, r.stderr
            assert "the history is intact" in r.stdout
            copy = scenarios.chain(restored)
            # The restored history is the source's, event for event, up to where the backup was taken.
            assert copy == source[:len(copy)] and kept in {h for _, h in copy}
            if db_engine == "sqlite":  # the backup's own head is its last event: nothing added after it
                assert copy[-1][1] == kept and "0 events were added after it" in r.stdout
        # The writer kept writing through the backups: the source grew past what the first backup holds.
        assert len(source) > len(scenarios.chain(taken[0][1]))
        scenarios.check_invariants(taken[-1][1])
    finally:
        if db_engine == "postgresql":
            for _, restored in taken:
                drop(restored)


def test_db_copy_of_a_database_being_written_is_one_snapshot_with_its_own_head(db_url, db_engine, tmp_path):
    """Before: the source's head was read after the copy, outside its snapshot, so with another process
    writing every copy exited 2 ("its head differs from the source's") and left the target full."""
    scenarios.seed(db_url, aanpakken=1)
    target = str(tmp_path / "kopie.db")
    with scenarios.Writer(db_url, tmp_path) as writer:
        r = wijkflow(db_url, "db", "copy", "--to", target)
    assert writer.written > 0
    assert r.returncode == 0, r.stderr
    source, copy = scenarios.chain(db_url), scenarios.chain(target)
    head = r.stdout.split("head ")[1].split(" ")[0]
    assert copy[-1][1] == head and copy == source[:len(copy)]
    assert len(source) > len(copy), "the writer went on writing after the copy's snapshot"
