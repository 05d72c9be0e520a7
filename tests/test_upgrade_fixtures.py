"""Databases written by every landed wijkflow, upgraded by this one: nothing lost, work goes on.

Each fixture in tests/data/upgrade/ was made by that version's own `wijkflow` command
(tests/data/upgrade/regenerate.py: people, three aanpakken through several phases,
deadlines, indicators, reminders sent where the version had them); manifest.json records the
commit, the row counts, the clock and the audit head at creation, and NAME/ holds the JSON that
version printed. Here each one is upgraded with `init`, as an administrator would, and then:
row counts are the same, every field the old version printed is printed the same, the history
still ends at the head recorded at creation, and the commands that write still work.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from wijkflow import migrations
from wijkflow.app import App
from wijkflow.cli import cli
from wijkflow.definitions import load_file, shipped_dir
from wijkflow.models import METADATA

DATA = Path(__file__).resolve().parent / "data" / "upgrade"
MANIFEST = json.loads((DATA / "manifest.json").read_text())
PL, WR, ADMIN = "fleur@hengelo.example", "erna@hengelo.example", "admin@hengelo.example"
REFS = ("wijkaanpak-noord", "wijkaanpak-zuid", "klarendal")
WIJKAANPAK = shipped_dir() / "wijkaanpak.yaml"
# Fields whose value is allowed to change with the version that prints them, and why (list indices left out):
# - list's days_in_phase: issue 12 counts days in phase as Europe/Amsterdam calendar days, as min_days
#   does ("met from" and the count had disagreed by a day); before, it counted elapsed 24-hour periods.
# - show's days_in_phase, and a gate's `why` that quotes it ("36 of 90 days in phase"): the same.
# - a gate's `why` "1 indicators complete" is "1 indicator complete" since issue 13 (singular for one).
CHANGED_ON_PURPOSE: set[tuple[str, str]] = {("list", "days_in_phase"), ("show", "days_in_phase"),
                                            ("show", "gates.criteria.why")}


def differences(old: Any, new: Any, path: str = "") -> list[str]:
    """Every field the old output had that the new one lacks or prints differently (new fields are fine)."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key, value in old.items():
            where = f"{path}.{key}" if path else key
            if key not in new:
                found.append(f"{where}: gone")
            else:
                found += differences(value, new[key], where)
        return found
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return [f"{path}: {len(old)} items, now {len(new)}"]
        return [d for i, (o, n) in enumerate(zip(old, new, strict=True)) for d in differences(o, n, f"{path}[{i}]")]
    return [] if old == new else [f"{path}: {old!r} -> {new!r}"]


# Releases before PostgreSQL support (252aae7) have no PostgreSQL counterpart.
NO_POSTGRES = {"first-core"}


class Upgraded:
    """A fixture's data in the test's database: the SQLite file itself, or on PostgreSQL the same rows
    in the schema that release made there (its revision; for one before migrations, what create_all
    made, which the first revision equals, test_schema_migrations holds that), unstamped the same way."""

    def __init__(self, name: str, url: str, tmp: Path) -> None:
        self.name = name
        self.facts = MANIFEST[name]
        self.source = DATA / f"{name}.db"
        self.url = url
        if "://" in url:
            self._load_into_postgresql()
        else:
            shutil.copyfile(self.source, url)
        self.env = {"WIJKFLOW_DATABASE_URL": url, "WIJKFLOW_NOW": self.facts["now"],
                    "WIJKFLOW_OUTBOX_DIR": str(tmp / "outbox"), "WIJKFLOW_CONFIG": "",
                    "WIJKFLOW_TIMEZONE": "Europe/Amsterdam", "WIJKFLOW_USER": ""}

    def run(self, *args: str, user: str | None = None, now: str | None = None) -> Any:
        env = {**self.env, "WIJKFLOW_USER": user or ""}
        if now:
            env["WIJKFLOW_NOW"] = now
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    def revision(self) -> str | None:
        con = sqlite3.connect(self.source)
        try:
            return con.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        except sqlite3.OperationalError:
            return None  # made before migrations
        finally:
            con.close()

    def counts(self) -> dict[str, int]:
        engine = sa.create_engine(self.url if "://" in self.url else f"sqlite:///{self.url}")
        try:
            with engine.connect() as conn:
                return {t: conn.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar_one()
                        for t in self.facts["counts"]}
        finally:
            engine.dispose()

    def _load_into_postgresql(self) -> None:
        rev = self.revision()
        made = App.open(self.url)
        made.db.upgrade(rev or migrations.history()[0].revision)
        made.close()
        source = sa.create_engine(f"sqlite:///{self.source}")
        target = sa.create_engine(self.url)
        try:
            with source.connect() as src, target.begin() as dst:
                present = {t: {c["name"] for c in sa.inspect(src).get_columns(t)}
                           for t in sa.inspect(src).get_table_names()}
                for table in METADATA.sorted_tables:
                    if table.name not in present:
                        continue
                    columns = [c for c in table.columns if c.name in present[table.name]]
                    rows = [dict(r._mapping) for r in src.execute(sa.select(*columns))]
                    if rows:  # only the columns that release had: no defaults of later columns
                        bare = sa.Table(table.name, sa.MetaData(), *(sa.Column(c.name, c.type) for c in columns))
                        dst.execute(bare.insert(), rows)
                    if rows and "id" in table.c:  # the next id after the copied ones, as that release's would be
                        dst.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                            f"(SELECT max(id) FROM {table.name}))"))
                if rev is None:
                    dst.execute(sa.text("DROP TABLE alembic_version"))
        finally:
            source.dispose()
            target.dispose()


@pytest.fixture(params=sorted(MANIFEST))
def upgraded(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> Upgraded:
    if "://" in db_url and request.param in NO_POSTGRES:
        pytest.skip(f"{request.param} is from before wijkflow ran on PostgreSQL")
    fx = Upgraded(request.param, db_url, tmp_path)
    at_head = fx.revision() == migrations.head()
    r = fx.run("init")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith("Checked the wijkflow database" if at_head else "Upgraded the wijkflow database")
    assert at_head or r.stdout.splitlines()[0].endswith(f"to {migrations.head()}).")
    return fx


def test_every_row_stays_and_the_history_ends_at_the_head_recorded_when_it_was_made(upgraded):
    assert upgraded.counts() == upgraded.facts["counts"]
    r = upgraded.run("audit", "verify", "--expect-head", upgraded.facts["audit_head"], "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["checked"] == upgraded.facts["audit_events"]
    r = upgraded.run("db", "current", "--format", "json")
    assert json.loads(r.stdout)["up_to_date"] is True


def test_every_field_the_old_version_printed_is_printed_the_same(upgraded):
    found = []
    outputs = sorted((DATA / upgraded.name).glob("*.json"))
    assert len(outputs) == 1 + 3 * len(REFS)
    for path in outputs:
        command, _, ref = path.stem.partition("-")
        r = upgraded.run(command, *([ref] if ref else []), "--format", "json")
        assert r.exit_code == 0, (path.name, r.stderr)
        found += [f"{path.name} {d}" for d in differences(json.loads(path.read_text()), json.loads(r.stdout))
                  if (command, re.sub(r"\[\d+\]", "", d.split(":")[0]).lstrip(".")) not in CHANGED_ON_PURPOSE]
    assert found == []


def test_work_goes_on_after_the_upgrade(upgraded, tmp_path):
    u = upgraded
    r = u.run("deadline", "wijkaanpak-zuid", "organisatiestructuur", "2026-09-01", user=PL)
    assert r.exit_code == 0, r.stderr
    r = u.run("complete", "wijkaanpak-zuid", "organisatiestructuur", "--evidence", "organogram.pdf", user=PL)
    assert r.exit_code == 0, r.stderr
    r = u.run("advance", "wijkaanpak-zuid", "--override", "--reason", "Stuurgroep besloot door te gaan", user=ADMIN)
    assert r.exit_code == 0, r.stderr
    assert json.loads(u.run("show", "wijkaanpak-zuid", "--format", "json").stdout)["phase"] == "execute"
    r = u.run("new", "Wijkaanpak West", "--wijk", "West", "--gemeente", "Hengelo", "--leader", PL, user=PL)
    assert r.exit_code == 0, r.stderr
    # The aanpakken still on the version they started on move to the shipped one.
    shipped = load_file(WIJKAANPAK).version
    if json.loads(u.run("show", "klarendal", "--format", "json").stdout)["workflow"]["version"] != shipped:
        r = u.run("migrate", "klarendal", "--to-version", str(shipped), "--reason", "Nieuwe versie", user=PL)
        assert r.exit_code == 0, r.stderr
    r = u.run("reminders", "send", now="2026-07-01T09:00:00+02:00")
    assert r.exit_code == 0, r.stderr
    r = u.run("reminders", "list", "--format", "json")
    assert r.exit_code == 0 and json.loads(r.stdout), r.stderr
    r = u.run("db", "copy", "--to", str(tmp_path / "kopie.db"))
    assert r.exit_code == 0, r.stderr
    r = u.run("audit", "verify", "--expect-head", u.facts["audit_head"])
    assert r.exit_code == 0, r.stderr


def test_the_installed_command_upgrades_the_first_core_database(tmp_path):
    """As an administrator does it: the real `wijkflow init` on a copy of the oldest database."""
    import os
    import subprocess

    from conftest import wijkflow_command

    db = tmp_path / "first-core.db"
    shutil.copyfile(DATA / "first-core.db", db)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIJKFLOW_")}
    env.update({"WIJKFLOW_DATABASE_URL": str(db), "HOME": str(tmp_path)})
    r = subprocess.run([*wijkflow_command(), "init"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].endswith(f"(schema revision 0001 to {migrations.head()}).")
    r = subprocess.run([*wijkflow_command(), "--as", PL, "reminders", "list"], capture_output=True, text=True,
                       env=env, timeout=60)
    assert r.returncode == 0, r.stderr
