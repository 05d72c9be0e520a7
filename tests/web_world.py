"""One populated database per test module for the web page tests (CI time): people in every role, and a
fresh aanpak for every test that writes (`world.fresh(...)`), so tests in a module do not depend on
each other's order. SQLite by default; with --postgres / WIJKFLOW_TEST_POSTGRES a PostgreSQL database
made for the module and dropped after it.

    from web_world import World, world_for   # world_for(request, tmp_path_factory) in a module fixture
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import ADMIN, AMS, AUDITOR, PL, SG1, SG2, WR, Clock
from starlette.testclient import TestClient
from webkit import BASE, build, login_as

from wijkflow import services
from wijkflow.app import App

OTHER = "olga@hengelo.example"  # a known person without a role on any aanpak
BOTH = "bram@hengelo.example"  # projectleider and approver on the same aanpak (four-eyes)

EMAIL = {"admin": ADMIN, "auditor": AUDITOR, "projectleider": PL, "coordinator": WR, "approver": SG1,
         "other": OTHER}


class World:
    def __init__(self, app: App, url: str, clock: Clock) -> None:
        self.app, self.url, self.clock = app, url, clock
        self.web = build(app)
        self._n = 0

    def client(self, email: str | None = None) -> TestClient:
        c = TestClient(self.web, base_url=BASE, follow_redirects=False)
        if email:
            login_as(c, self.app, email)
        return c

    def fresh(self, name: str = "Wijkaanpak", *, leader: str = PL, approvers: tuple[str, ...] = (SG1, SG2),
              wijk: str | None = None, **kw: Any) -> str:
        """A new aanpak in Initiëren (leader PL, coordinator WR, approvers SG1 and SG2): its slug."""
        self._n += 1
        a = services.create_aanpak(self.app, f"{name} {self._n}", wijk=wijk or f"Wijk{self._n}",
                                   gemeente="Hengelo", leader=leader, coordinators=(WR,), approvers=approvers,
                                   acting=leader, **kw)
        return str(a["slug"])

    def ready_to_approve(self, slug: str) -> None:
        services.complete(self.app, slug, "lokaal_contract", evidence="https://hengelo.nl/contract.pdf", acting=PL)

    def ready_to_advance(self, slug: str) -> None:
        for key in ("coalitie", "analyse_visie", "lokaal_contract", "instrumenten_financiering"):
            services.complete(self.app, slug, key, evidence=f"Stuk {key}", acting=PL)
        services.approve(self.app, slug, "lokaal_contract_akkoord", comment="Akkoord", acting=SG1)

    def state(self) -> list[tuple[str, list[tuple[Any, ...]]]]:
        """Everything stored (as conftest's db_state): a refusal must leave it as it was."""
        engine = sa.create_engine(self.url if "://" in self.url else f"sqlite:///{self.url}")
        try:
            with engine.connect() as conn:
                tables = sorted(sa.inspect(conn).get_table_names())
                return [(t, sorted(map(tuple, conn.execute(sa.text(f'SELECT * FROM "{t}"'))), key=repr))
                        for t in tables]
        finally:
            engine.dispose()

    def history(self, slug: str) -> list[dict[str, Any]]:
        return services.history(self.app, slug)


@contextmanager
def _database(request: pytest.FixtureRequest, base: Path) -> Iterator[str]:
    admin_url = request.config.getoption("--postgres")
    if not admin_url:
        yield str(base / "web.db")
        return
    name = f"wijkflow_web_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@contextmanager
def world_for(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("web")
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_DATA_HOME", str(base / "xdg-data"))  # the audit signing key, never in $HOME
    clock = Clock(datetime(2026, 3, 2, 9, 0, tzinfo=AMS).astimezone(UTC))
    try:
        with _database(request, base) as url:
            app = App.open(url, clock=clock, outbox_dir=str(base / "outbox"))
            app.db.init()
            services.add_person(app, ADMIN, name="Ada Admin", role="admin")
            services.add_person(app, AUDITOR, name="Otto Auditor", role="auditor", acting=ADMIN)
            services.add_person(app, PL, name="Fleur Mensink", acting=ADMIN)
            services.add_person(app, WR, name="Erna Biezenaar", acting=ADMIN)
            services.add_person(app, SG1, name="Robert Olde Heuvel", acting=ADMIN)
            services.add_person(app, SG2, name="Jennifer Havinga", locale="en", acting=ADMIN)
            services.add_person(app, OTHER, name="Olga Overig", acting=ADMIN)
            services.add_person(app, BOTH, name="Bram Beide", acting=ADMIN)
            try:
                yield World(app, url, clock)
            finally:
                app.close()
    finally:
        mp.undo()
