"""Large portfolios, built fast: one aanpak made through wijkflow's services, cloned in bulk by SQL.

The template is a real aanpak (in monitor since 1 July 2025, with a projectleider, a coordinator
and an approver), so every clone has exactly what the services would have stored for it: the
aanpak row, its roles and its pending reminder occurrences (5 messages due on 2 March 2026).
Cloning is a handful of INSERT ... SELECT statements in one transaction (a recursive CTE gives
the numbers, on SQLite and PostgreSQL alike), so 100,000 aanpakken take seconds, not an hour of
service calls. Clones have no audit events of their own; the benchmarks here do not read them.

Also: fresh PostgreSQL databases for a benchmark (`pg_database`), and the environment's
description for the README (`machine`).
"""

from __future__ import annotations

import os
import platform
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from wijkflow import services
from wijkflow.app import App
from wijkflow.models import REMINDER

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Europe/Amsterdam")).astimezone(UTC)
PEOPLE = [("pl@x.example", "PL"), ("wr@x.example", "WR"), ("sg@x.example", "SG")]
MESSAGES_PER_AANPAK = 5


def build(url: str, n: int, *, due: int | None = None, rules: tuple[str, ...] | None = None, **flags: object) -> App:
    """A database with n aanpakken; only the first `due` (default all) have reminders due at NOW.

    `rules` limits which reminder rules are due (the others move a year ahead). Returns the App
    (clock fixed at NOW), its database initialised.
    """
    app = App.open(url, clock=lambda: NOW, **flags)
    app.db.init()
    for email, name in PEOPLE:
        services.add_person(app, email, name=name)
    services.create_aanpak(app, "Aanpak 1", wijk="Wijk 1", gemeente="Bench", leader="pl@x.example",
                           coordinators=("wr@x.example",), approvers=("sg@x.example",), acting="pl@x.example",
                           phase="monitor", since="2025-07-01")
    with app.db.write() as conn:
        clone(conn, n - 1)
        later = NOW.replace(year=NOW.year + 1)
        reminder_t = REMINDER
        if due is not None and due < n:
            conn.execute(reminder_t.update().where(reminder_t.c.aanpak_id > due).values(due_at=later))
        if rules is not None:
            conn.execute(reminder_t.update().where(reminder_t.c.rule.not_in(rules)).values(due_at=later))
    if app.db.is_sqlite:
        with app.db.write() as conn:
            conn.exec_driver_sql("ANALYZE")
    else:
        with app.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    return app


def clone(conn: sa.Connection, copies: int) -> None:
    """Copy aanpak 1 (with roles and pending reminders) `copies` times, ids 2 .. copies + 1."""
    if copies <= 0:
        return
    seq = "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < :n) "
    conn.execute(sa.text(
        seq + "INSERT INTO aanpak (id, slug, name, wijk, gemeente, definition_id, phase, phase_since, visit, "
        "version, created_at, updated_at) "
        "SELECT 1 + i, 'aanpak-' || CAST(1 + i AS TEXT), 'Aanpak ' || CAST(1 + i AS TEXT), "
        "'Wijk ' || CAST(1 + i AS TEXT), gemeente, definition_id, phase, phase_since, visit, version, created_at, "
        "updated_at FROM aanpak, seq WHERE aanpak.id = 1"), {"n": copies})
    conn.execute(sa.text(
        seq + "INSERT INTO aanpak_role (aanpak_id, person_id, role) "
        "SELECT 1 + i, person_id, role FROM aanpak_role, seq WHERE aanpak_id = 1"), {"n": copies})
    conn.execute(sa.text(
        seq + "INSERT INTO reminder (aanpak_id, rule, kind, phase, visit, criterion, deadline, seq, dedupe, due_at, "
        "status, reason, created_at, updated_at) "
        "SELECT 1 + i, rule, kind, phase, visit, criterion, deadline, seq, "
        "CAST(1 + i AS TEXT) || substr(dedupe, 2), due_at, status, reason, created_at, updated_at "
        "FROM reminder, seq WHERE aanpak_id = 1 AND status = 'pending'"), {"n": copies})
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('aanpak', 'id'), (SELECT max(id) FROM aanpak))")


def sqlite_template(path: Path, n: int, **kw: Any) -> Path:
    """build() into a SQLite file, its WAL folded in, so copying the one file copies everything."""
    build(f"sqlite:///{path}", n, **kw).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@contextmanager
def sqlite_copy(template: Path) -> Iterator[str]:
    """A fresh copy of a SQLite template for one run, removed with its WAL afterwards."""
    copy = template.with_name(f"run-{template.name}")
    shutil.copy(template, copy)
    try:
        yield f"sqlite:///{copy}"
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{copy}{suffix}").unlink(missing_ok=True)


def admin_url() -> str | None:
    return os.environ.get("WIJKFLOW_BENCH_POSTGRES") or os.environ.get("WIJKFLOW_TEST_POSTGRES")


@contextmanager
def pg_database(admin: str, template: str | None = None) -> Iterator[str]:
    """A fresh PostgreSQL database (optionally a copy of `template`), dropped afterwards."""
    name = f"wijkflow_bench_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    try:
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()


def machine(pg: str | None = None) -> dict[str, str]:
    """What the numbers were measured on."""
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    out = {"nproc": str(os.cpu_count()), "cpu": cpu, "python": platform.python_version(),
           "sqlite": sqlite3.sqlite_version, "os": platform.platform()}
    if pg:
        engine = sa.create_engine(pg)
        try:
            with engine.connect() as conn:
                out["postgresql"] = conn.exec_driver_sql("SHOW server_version").scalar()
        finally:
            engine.dispose()
    try:
        out["nproc"] = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip() or out["nproc"]
    except OSError:
        pass
    return out
