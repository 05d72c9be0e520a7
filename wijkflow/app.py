"""The application object: settings, database, definitions and the clock, built once.

The CLI builds one when a command first needs it (`cli.open_app`); tests, benchmarks and
other programs build their own (`App.open("sqlite:///x.db")`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from .config import Settings, load_settings
from .db import Database
from .definitions import Registry, shipped_dir
from .reminders.calendar import WorkCalendar

if TYPE_CHECKING:
    from transitions import Machine

    from .definitions import Definition


def _real_clock() -> datetime:
    return datetime.now(UTC)


def _stopped_clock(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


class App:
    def __init__(self, settings: Settings, *, clock: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        fixed = settings.now
        self._clock = clock or (_stopped_clock(fixed) if fixed is not None else _real_clock)
        self._db: Database | None = None
        self._registry: Registry | None = None
        # Stored definitions parsed once per process, by content hash (a stored version never changes).
        self.definitions: dict[str, Definition] = {}
        # One state machine per definition version (name, version, content hash): engine.machine_for.
        self.machines: dict[tuple[str, int, str], Machine] = {}

    @classmethod
    def open(cls, database_url: str, *, user: str | None = None,
             clock: Callable[[], datetime] | None = None, **flags: object) -> App:
        """An App on `database_url`; `flags` are settings by name (`smtp_host=...`). The environment is not read."""
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

    @cached_property
    def calendar(self) -> WorkCalendar:
        """The work calendar of these settings, built once: it loads the public holidays only once."""
        return WorkCalendar.from_settings(self.settings)

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = Database(self.settings.database_url.get_secret_value(), identity=self.settings.identity)
            if self._db.path is not None and self.settings.sources.get("database_url", "").startswith("default"):
                # The embedded default lives in the user data directory; make it on first use.
                self._db.path.parent.mkdir(parents=True, exist_ok=True)
        return self._db

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            dirs = [shipped_dir()]
            if self.settings.workflows_dir:
                dirs.append(Path(self.settings.workflows_dir))
            self._registry = Registry(dirs)
        return self._registry

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()
