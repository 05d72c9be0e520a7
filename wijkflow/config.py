"""Settings: flags > WIJKFLOW_* environment > wijkflow.toml > defaults.

Kept free of heavy imports: the CLI reads settings before it knows which command runs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import InvalidInput, shorten

APP_NAME = "wijkflow"

# setting name -> environment variable
ENV = {
    "database_url": "WIJKFLOW_DATABASE_URL",
    "user": "WIJKFLOW_USER",
    "timezone": "WIJKFLOW_TIMEZONE",
    "smtp_host": "WIJKFLOW_SMTP_HOST",
    "smtp_port": "WIJKFLOW_SMTP_PORT",
    "smtp_security": "WIJKFLOW_SMTP_SECURITY",
    "smtp_user": "WIJKFLOW_SMTP_USER",
    "smtp_password": "WIJKFLOW_SMTP_PASSWORD",
    "smtp_password_file": "WIJKFLOW_SMTP_PASSWORD_FILE",
    "mail_from": "WIJKFLOW_MAIL_FROM",
    "outbox_dir": "WIJKFLOW_OUTBOX_DIR",
    "workflows_dir": "WIJKFLOW_WORKFLOWS_DIR",
    "now": "WIJKFLOW_NOW",
    # reminders (issue 3)
    "smtp_timeout": "WIJKFLOW_SMTP_TIMEOUT",
    "closing_days": "WIJKFLOW_CLOSING_DAYS",
    "reminder_hour": "WIJKFLOW_REMINDER_HOUR",
    "reminder_shift": "WIJKFLOW_REMINDER_SHIFT",
    "mail_digest": "WIJKFLOW_MAIL_DIGEST",
    # several schedulers on one database (issue 6)
    "lease_seconds": "WIJKFLOW_LEASE_SECONDS",
}
SECRET = {"smtp_password"}


def _data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


def _config_dir() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME, appauthor=False))


@dataclass
class Settings:
    database_url: str = ""
    user: str | None = None
    timezone: str = "Europe/Amsterdam"
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_security: str = "starttls"
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_password_file: str | None = None
    mail_from: str = "wijkflow@localhost"
    outbox_dir: str = ""
    workflows_dir: str | None = None
    # A fixed clock (ISO datetime) for replaying, demos and tests; the real clock otherwise.
    now: str | None = None
    # Reminders: SMTP timeout in seconds; the municipality's own closing days (YYYY-MM-DD, comma
    # separated or a TOML list); the local hour reminders go out; whether a due day that is not a
    # working day moves to the next one (next_working_day | none); one digest per person per sweep.
    smtp_timeout: float = 30
    closing_days: str | list[str] | None = None
    reminder_hour: int = 9
    reminder_shift: str = "next_working_day"
    mail_digest: bool = False
    # How long a sweep's claim on a message holds before another scheduler may take it over
    # (the claiming node died); a live sweep renews its claims well before that.
    lease_seconds: float = 300
    config_file: str | None = None
    sources: dict[str, str] = field(default_factory=dict)

    def zone(self) -> Any:
        """The time zone in effect; InvalidInput (exit 2) when it is not one the system knows."""
        from zoneinfo import ZoneInfo

        try:
            return ZoneInfo(self.timezone)
        except (KeyError, ValueError, OSError):
            raise InvalidInput(f"WIJKFLOW_TIMEZONE '{self.timezone}' is not a known time zone "
                               "(e.g. Europe/Amsterdam).") from None

    def fixed_now(self) -> datetime | None:
        if not self.now:
            return None
        try:
            value = datetime.fromisoformat(self.now)
        except ValueError:
            raise InvalidInput(f"WIJKFLOW_NOW '{self.now}' is not an ISO date-time "
                               "(e.g. 2026-03-01T09:00:00+01:00).") from None
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.zone())
        if not 1900 <= value.year <= 9000:  # days are added to it (deadlines, reminders): keep far from year 1 and 9999
            raise InvalidInput(f"WIJKFLOW_NOW '{self.now}' must lie between the years 1900 and 9000.")
        return value.astimezone(UTC)

    def shown(self) -> dict[str, Any]:
        """What is in effect, passwords masked, with where each value came from."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name in ("sources",):
                continue
            value = getattr(self, f.name)
            if f.name in SECRET and value:
                value = "********"
            out[f.name] = {"value": value, "from": self.sources.get(f.name, "default")}
        return out


def load_settings(*, flags: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None,
                  config_path: str | None = None) -> Settings:
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    env = os.environ if env is None else env
    settings = Settings()
    chosen = config_path or env.get("WIJKFLOW_CONFIG")
    path = Path(chosen) if chosen else _config_dir() / "wijkflow.toml"
    file_values: dict[str, Any] = {}
    try:
        is_file = path.is_file()
    except OSError as exc:  # e.g. a name longer than the file system allows
        raise InvalidInput(f"The configuration file {shorten(path)} cannot be read: {exc.strerror}.") from None
    if is_file:
        import tomllib

        try:
            file_values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"The configuration file {path} cannot be read: {exc}.") from None
        settings.config_file = str(path)
        unknown = set(file_values) - set(ENV)
        if unknown:
            raise InvalidInput(f"The configuration file {path} has unknown settings: "
                               f"{', '.join(sorted(unknown))}.")
    elif chosen:
        raise InvalidInput(f"The configuration file {path} does not exist.")
    for name, var in ENV.items():
        for source, values, key in (("flag", flags, name), (f"env {var}", env, var),
                                    (f"file {path}", file_values, name)):
            if values.get(key) not in (None, ""):
                setattr(settings, name, values[key])
                settings.sources[name] = source
                break
    if settings.smtp_port is not None:
        try:
            settings.smtp_port = int(settings.smtp_port)
        except (TypeError, ValueError):
            raise InvalidInput(f"The SMTP port '{settings.smtp_port}' is not a number.") from None
    try:
        settings.lease_seconds = float(settings.lease_seconds)
    except (TypeError, ValueError):
        raise InvalidInput(f"WIJKFLOW_LEASE_SECONDS '{settings.lease_seconds}' is not a number of seconds.") from None
    if not settings.lease_seconds > 0:
        raise InvalidInput(f"WIJKFLOW_LEASE_SECONDS must be more than 0, not {settings.lease_seconds:g}.")
    if settings.smtp_security not in ("starttls", "ssl", "none"):
        raise InvalidInput(f"WIJKFLOW_SMTP_SECURITY must be starttls, ssl or none, not "
                           f"'{settings.smtp_security}'.")
    if not settings.database_url:
        data = _data_dir()
        settings.database_url = f"sqlite:///{data / 'wijkflow.db'}"
        settings.sources["database_url"] = "default (user data directory)"
    if not settings.outbox_dir:
        settings.outbox_dir = str(_data_dir() / "outbox")
        settings.sources["outbox_dir"] = "default (user data directory)"
    return settings
