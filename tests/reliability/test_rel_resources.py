"""6. Resource faults: a read-only database, a full disk, a database locked beyond the busy timeout.

Each ends in one clear sentence on stderr, the documented exit code, and nothing half-written.
How each fault is made (the tests run as root, where chmod does not stop a write):
- read-only: a tmpfs remounted read-only when `mount` works here; always also SQLite's own
  read-only open (`?mode=ro` URI), which refuses writes for root too;
- full disk: a 1 MB tmpfs filled to the last byte when `mount` works; always also a file size
  limit (RLIMIT_FSIZE, with SIGXFSZ ignored so the write fails with EFBIG instead of killing);
- locked: another connection holds the write lock (SQLite BEGIN IMMEDIATE; PostgreSQL the
  aanpak rows and the audit chain's advisory lock) for longer than the busy timeout.
"""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import scenarios
import sqlalchemy as sa
from conftest import PL

COMPLETE = ["--as", PL, "complete", "wijkaanpak-noord", "coalitie", "--evidence", "https://docs.example/1"]


def cli(url: str, *args: str, preexec_fn=None) -> subprocess.CompletedProcess[str]:
    """The installed command on a SQLite file of the test's own (these faults are about files)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIJKFLOW_")}
    env["WIJKFLOW_DATABASE_URL"] = url
    return subprocess.run([*scenarios.wijkflow_command(), *args], capture_output=True, text=True, env=env,
                          preexec_fn=preexec_fn, timeout=60)


def one_sentence(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in stderr, stderr
    return lines[0]


@pytest.fixture
def mounted(tmp_path: Path):
    """A 1 MB tmpfs, or a skip when this machine does not let us mount one."""
    where = tmp_path / "mnt"
    where.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)],
                      capture_output=True).returncode != 0:
        pytest.skip("mount is not allowed here; the ?mode=ro and RLIMIT_FSIZE variants cover this fault")
    yield where
    subprocess.run(["umount", "-l", str(where)], capture_output=True)


def seeded(path: Path) -> str:
    url = str(path)
    scenarios.seed(url, aanpakken=0)
    from wijkflow import services
    from wijkflow.app import App

    app = App.open(url, clock=lambda: scenarios.BASE)
    services.create_aanpak(app, "Wijkaanpak Noord", wijk="Noord", gemeente="Hengelo", leader=PL, acting=PL)
    app.close()
    return url


def sqlite_state(path: Path) -> list:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return [(t, sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr)) for t in tables]
    finally:
        conn.close()


# --- read-only -------------------------------------------------------------------------------------


def test_a_read_only_mounted_database_is_refused_in_one_sentence(mounted):
    url = seeded(mounted / "w.db")
    before = sqlite_state(mounted / "w.db")
    assert subprocess.run(["mount", "-o", "remount,ro", str(mounted)], capture_output=True).returncode == 0
    proc = cli(url, *COMPLETE)
    assert proc.returncode == 2, proc.stderr
    assert "cannot be opened for writing" in one_sentence(proc.stderr) or "read-only" in proc.stderr
    assert sqlite_state(mounted / "w.db") == before
    shown = cli(url, "show", "wijkaanpak-noord")
    assert shown.returncode == 0, shown.stderr  # reading still works


def test_a_database_opened_read_only_refuses_every_write_even_for_root(tmp_path):
    seeded(tmp_path / "w.db")
    before = sqlite_state(tmp_path / "w.db")
    ro = f"sqlite:///file:{tmp_path / 'w.db'}?mode=ro&uri=true"
    for args in (COMPLETE, ["--as", PL, "new", "Zuid", "--wijk", "Zuid", "--leader", PL]):
        proc = cli(ro, *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "cannot be opened for writing" in one_sentence(proc.stderr)
    # `init` on a database already at the newest schema revision has nothing to write: it only checks.
    proc = cli(ro, "init")
    assert proc.returncode == 0 and proc.stdout.startswith("Checked the wijkflow database"), proc.stderr
    assert sqlite_state(tmp_path / "w.db") == before
    assert cli(ro, "show", "wijkaanpak-noord").returncode == 0


# --- full disk ---------------------------------------------------------------------------------------


def test_a_full_disk_is_refused_in_one_sentence_and_nothing_is_half_written(mounted):
    url = seeded(mounted / "w.db")
    before = sqlite_state(mounted / "w.db")
    fd = os.open(mounted / "filler", os.O_WRONLY | os.O_CREAT)
    try:  # take every free block
        for chunk in (65536, 4096, 512, 1):
            while True:
                try:
                    os.write(fd, b"\0" * chunk)
                except OSError:
                    break
    finally:
        os.close(fd)
    proc = cli(url, *COMPLETE)
    assert proc.returncode == 2, proc.stderr
    assert "is full" in one_sentence(proc.stderr)
    os.remove(mounted / "filler")
    assert sqlite_state(mounted / "w.db") == before
    assert scenarios.check_invariants(url)["events"] > 0


def test_a_file_size_limit_is_refused_in_one_sentence_and_nothing_is_half_written(tmp_path):
    url = seeded(tmp_path / "w.db")
    before = sqlite_state(tmp_path / "w.db")

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write with EFBIG instead of killing the process
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))  # no write may end beyond the first 1 kB

    proc = cli(url, *COMPLETE, preexec_fn=limit)
    assert proc.returncode == 2, proc.stderr
    assert "is full" in one_sentence(proc.stderr)
    assert sqlite_state(tmp_path / "w.db") == before
    assert scenarios.check_invariants(url)["events"] > 0


# --- locked beyond the busy timeout ---------------------------------------------------------------------


def test_a_database_locked_beyond_the_busy_timeout_is_a_conflict(db_url, sh, db_state):
    scenarios.seed(db_url, aanpakken=0)
    from wijkflow import services
    from wijkflow.app import App

    app = App.open(db_url, clock=lambda: scenarios.BASE)
    services.create_aanpak(app, "Wijkaanpak Noord", wijk="Noord", gemeente="Hengelo", leader=PL, acting=PL)
    app.close()
    before = db_state()
    engine = sa.create_engine(scenarios.sa_url(db_url))
    holder = engine.raw_connection()
    try:
        cur = holder.cursor()
        if engine.dialect.name == "sqlite":
            holder.driver_connection.isolation_level = None
            cur.execute("BEGIN IMMEDIATE")
        else:
            cur.execute("SELECT pg_advisory_xact_lock(4242)")
            cur.execute("SELECT * FROM aanpak FOR UPDATE")
        started = time.monotonic()
        proc = sh(*COMPLETE, timeout=60)
        waited = time.monotonic() - started
    finally:
        holder.rollback()
        holder.close()
        engine.dispose()
    assert proc.returncode == 6, proc.stderr
    assert "busy" in one_sentence(proc.stderr)
    assert 4 < waited < 30, f"gave up after {waited:.1f} s; the busy timeout is 5 s"
    assert db_state() == before
    assert sh(*COMPLETE).returncode == 0  # once the lock is gone, the same command goes through

