"""The application object: settings, database, definitions and the clock, built once.

The CLI builds one in its group callback and passes it through `ctx.obj`; tests,
benchmarks and other programs build their own (`App.open("sqlite:///x.db")`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .config import Settings, load_settings

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from .db import Database
    from .definitions import Definition, Registry


class App:
    def __init__(self, settings: Settings, *, clock: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        fixed = settings.fixed_now()
        self._clock = clock or ((lambda: fixed) if fixed else (lambda: datetime.now(UTC)))
        self._db: Database | None = None
        self._registry: Registry | None = None
        # Stored definitions parsed once, by content hash (a stored version never changes): store.definition.
        self.definitions: dict[str, Definition] = {}

    @classmethod
    def open(cls, database_url: str, *, user: str | None = None,
             clock: Callable[[], datetime] | None = None, **flags: object) -> App:
        settings = load_settings(flags={"database_url": database_url, "user": user, **flags}, env={})
        return cls(settings, clock=clock)

    def now(self) -> datetime:
        """The current moment, aware UTC. Only the edges call this; the engine gets `now` passed."""
        return self._clock()

    def set_clock(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock

    @property
    def tz(self) -> ZoneInfo:
        return self.settings.zone()

    @property
    def db(self) -> Database:
        if self._db is None:
            from .db import Database

            url = self.settings.database_url
            self._db = Database(url)
            if self._db.path is not None and self.settings.sources.get("database_url", "").startswith("default"):
                # The embedded default lives in the user data directory; make it on first use.
                self._db.path.parent.mkdir(parents=True, exist_ok=True)
        return self._db

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            from .definitions import Registry, shipped_dir

            dirs = [shipped_dir()]
            if self.settings.workflows_dir:
                dirs.append(Path(self.settings.workflows_dir))
            self._registry = Registry(dirs)
        return self._registry

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()
