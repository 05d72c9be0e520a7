"""Shared fixtures: a real SQLite file per test, a clock the test moves, people and an aanpak."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from wijkflow import services
from wijkflow.app import App
from wijkflow.cli import cli

# The web tests' fixtures (client, web, served; the OpenID provider oidc_provider, oidc), usable by name anywhere.
pytest_plugins = ["webkit", "oidc_provider", "smtp_server"]

AMS = ZoneInfo("Europe/Amsterdam")
PL = "fleur@hengelo.example"
WR = "erna@hengelo.example"
SG1 = "robert@welbions.example"
SG2 = "jennifer@hengelo.example"
ADMIN = "admin@hengelo.example"
AUDITOR = "auditor@hengelo.example"

# The smallest valid workflow definition: two phases, one deliverable (tests vary it with replace()).
MINIMAL = """\
name: mini
version: 1
label: Mini
phases:
  - key: start
    label: Start
  - key: done
    label: Klaar
    final: true
criteria:
  plan:
    kind: deliverable
    label: Plan
transitions:
  - source: start
    dest: done
    label: Afronden
    gate: [plan]
"""


class Clock:
    """The test's clock: time only moves when the test says so."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def forward(self, days: float = 0, **kw: float) -> None:
        self.now += timedelta(days=days, **kw)

    @property
    def iso(self) -> str:
        return self.now.isoformat()


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's own user data directory: `init` makes the audit signing key there, never in $HOME."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 2, 9, 0, tzinfo=AMS).astimezone(UTC))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--postgres", metavar="URL", default=os.environ.get("WIJKFLOW_TEST_POSTGRES") or None,
        help="also run every database test on PostgreSQL: a URL with the right to create databases "
             "(e.g. postgresql+psycopg://postgres:pw@127.0.0.1/postgres); each test gets a fresh database. "
             "[env WIJKFLOW_TEST_POSTGRES]")


def pytest_sessionstart(session: pytest.Session) -> None:
    # Hundreds of tests run the installed `wijkflow` in a subprocess. Under PYTHONDONTWRITEBYTECODE
    # (CI, this sandbox) an editable install would recompile its sources in every one of them;
    # `pip install .` compiles them once, and so does this (a no-op when they are current).
    import compileall

    import wijkflow

    compileall.compile_dir(str(Path(wijkflow.__file__).parent), quiet=1)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: the test works on the SQLite file itself (tampering, "
                                       "file bytes), or on a layer the engine does not change (the web pages "
                                       "over the services); it runs once, on SQLite")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_url" in metafunc.fixturenames:
        engines = ["sqlite"]
        if metafunc.config.getoption("--postgres") and not metafunc.definition.get_closest_marker("sqlite_only"):
            engines.append("postgresql")
        metafunc.parametrize("db_engine", engines)


@pytest.fixture
def db_engine() -> str:
    return "sqlite"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "wijkflow.db"


@pytest.fixture(scope="session")
def pg_template(request: pytest.FixtureRequest):
    """A PostgreSQL database at the newest schema, made once: tests that start from an
    initialised database (the `app` fixture) are copied from it instead of running `init`."""
    admin_url = request.config.getoption("--postgres")
    if not admin_url:
        yield None
        return
    name = f"wijkflow_tpl_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    made = App.open(admin_url.rsplit("/", 1)[0] + "/" + name)
    made.db.init()
    made.close()
    yield name
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def db_url(db_engine: str, db_path: Path, request: pytest.FixtureRequest):
    """The test's database: a SQLite file, or a fresh PostgreSQL database dropped afterwards
    (a copy of the initialised template when the test uses `app`, which would init it anyway)."""
    if db_engine == "sqlite":
        yield str(db_path)
        return
    admin_url = request.config.getoption("--postgres")
    name = f"wijkflow_test_{uuid.uuid4().hex[:12]}"
    template = request.getfixturevalue("pg_template") if "app" in request.fixturenames else None
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    yield admin_url.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def db_state(db_url: str):
    """A callable returning everything stored, to prove that a refused command wrote nothing."""

    def _state() -> list[tuple[str, list[tuple]]]:
        engine = sa.create_engine(db_url if "://" in db_url else f"sqlite:///{db_url}")
        try:
            with engine.connect() as conn:
                tables = sorted(sa.inspect(conn).get_table_names())
                return [(t, sorted(map(tuple, conn.execute(sa.text(f'SELECT * FROM "{t}"'))), key=repr))
                        for t in tables]
        finally:
            engine.dispose()

    return _state


@pytest.fixture
def app(db_url: str, clock: Clock, tmp_path: Path):
    a = App.open(db_url, clock=clock, outbox_dir=str(tmp_path / "outbox"))
    a.db.init()
    yield a
    a.close()


@pytest.fixture
def people(app: App) -> dict[str, str]:
    services.add_person(app, ADMIN, name="Ada Admin", role="admin")
    services.add_person(app, AUDITOR, name="Otto Auditor", role="auditor", acting=ADMIN)
    services.add_person(app, PL, name="Fleur Mensink", acting=ADMIN)
    services.add_person(app, WR, name="Erna Biezenaar", acting=ADMIN)
    services.add_person(app, SG1, name="Robert Olde Heuvel", acting=ADMIN)
    services.add_person(app, SG2, name="Jennifer Havinga", locale="en", acting=ADMIN)
    return {"pl": PL, "wr": WR, "sg1": SG1, "sg2": SG2, "admin": ADMIN, "auditor": AUDITOR}


@pytest.fixture
def aanpak(app: App, people: dict[str, str]) -> str:
    a = services.create_aanpak(app, "Wijkaanpak Noord", wijk="Noord", gemeente="Hengelo", leader=PL,
                               coordinators=(WR,), approvers=(SG1, SG2), acting=PL)
    return a["slug"]


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def run(db_url: str, clock: Clock, tmp_path: Path):
    """Run the CLI in-process (click's CliRunner) against the test's database and clock."""

    def _run(*args: str, user: str | None = None, env: dict[str, str] | None = None) -> Run:
        full_env = {"WIJKFLOW_DATABASE_URL": db_url, "WIJKFLOW_NOW": clock.iso,
                    "WIJKFLOW_OUTBOX_DIR": str(tmp_path / "outbox"), "WIJKFLOW_CONFIG": "",
                    "WIJKFLOW_USER": user or ""}
        full_env.update(env or {})
        result = CliRunner().invoke(cli, list(args), env=full_env, catch_exceptions=False)
        return Run(result.exit_code, result.stdout, result.stderr)

    return _run


def wijkflow_command() -> list[str]:
    """The installed console script next to this interpreter (falls back to python -m wijkflow)."""
    script = Path(sys.executable).with_name("wijkflow")
    if script.exists():
        return [str(script)]
    found = shutil.which("wijkflow")
    return [found] if found else [sys.executable, "-m", "wijkflow"]


@pytest.fixture
def sh(db_url: str, tmp_path: Path):
    """Run the installed `wijkflow` command in a subprocess, as a user would."""

    def _sh(*args: str, user: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        import os

        full_env = {k: v for k, v in os.environ.items() if not k.startswith("WIJKFLOW_")}
        full_env.update({"WIJKFLOW_DATABASE_URL": db_url, "WIJKFLOW_OUTBOX_DIR": str(tmp_path / "outbox")})
        if user:
            full_env["WIJKFLOW_USER"] = user
        full_env.update(env or {})
        return subprocess.run([*wijkflow_command(), *args], capture_output=True, text=True, env=full_env,
                              timeout=timeout)

    return _sh
