"""Settings: flags > WIJKFLOW_* environment > wijkflow.toml > defaults.

This is the one place that reads, parses and validates settings; the rest of wijkflow reads
typed fields (`settings.smtp_port` is an int, `settings.closing_days` a set of dates,
`settings.mail_digest` a bool). A bad value is refused here, in one sentence naming the
environment variable (exit 2), whichever command runs.

`Settings` is a pydantic-settings class whose secrets are `SecretStr`: the SMTP password and
the database URL (a PostgreSQL URL carries its password) never appear in a repr, a log line
or `wijkflow config`. `load_settings` gathers the three layers itself instead of letting
pydantic-settings read `os.environ`, for two reasons: it records where each value came from
(`sources`, printed by `wijkflow config`), and it takes the environment as a parameter, so
tests and embedding programs pass their own instead of editing `os.environ`.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from platformdirs import user_config_dir, user_data_dir
from pydantic import PrivateAttr, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from .errors import InvalidInput, shorten

APP_NAME = "wijkflow"
MASK = "********"
_TRUE = ("1", "true", "yes", "on")
MAX_LEASE_SECONDS = 86_400
MAX_SMTP_TIMEOUT = 3600
# scheme://user:PASSWORD@host... as SQLAlchemy's URL parser reads it
_URL_PASSWORD = re.compile(r"^(?P<head>[\w+.-]+://[^:/@]*:)(?P<password>[^@]*)@")


def _refuse(message: str) -> PydanticCustomError:
    # The message travels in the context: a value with braces in it must not be read as a template.
    return PydanticCustomError("wijkflow_setting", "{message}", {"message": message})


def _seconds(value: Any, setting: str) -> float:
    """A number of seconds as a setting gives it (text from the environment or the file, or a number)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _refuse(f"{setting} '{value}' is not a number of seconds.") from None


class Settings(BaseSettings):
    """Every setting, typed. Build it with `load_settings` (or `App.open`), which fills `sources`."""

    model_config = SettingsConfigDict(extra="forbid", validate_assignment=True, validate_default=False)

    database_url: SecretStr = SecretStr("")
    user: str | None = None
    timezone: str = "Europe/Amsterdam"
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_password_file: str | None = None
    mail_from: str = "wijkflow@localhost"
    outbox_dir: str = ""
    workflows_dir: str | None = None
    # A fixed clock for replaying, demos and tests (given as an ISO date-time; a time without an
    # offset is local time in `timezone`), held as aware UTC; the real clock when None.
    now: datetime | None = None
    # Reminders: SMTP timeout in seconds; the municipality's own closing days (YYYY-MM-DD, comma
    # separated or a TOML list); the local hour reminders go out; whether a due day that is not a
    # working day moves to the next one (next_working_day | none); one digest per person per sweep.
    smtp_timeout: float = 30
    closing_days: frozenset[date] = frozenset()
    reminder_hour: int = 9
    reminder_shift: Literal["next_working_day", "none"] = "next_working_day"
    mail_digest: bool = False
    # How long a sweep's claim on a message holds before another scheduler may take it over
    # (the claiming node died); a live sweep renews its claims well before that.
    lease_seconds: float = 300.0
    # The installation's Ed25519 key that signs audit checkpoints (made by `init`, mode 0600, never in
    # the database); and the address the scheduler mails each periodic checkpoint to (empty: none).
    audit_key_file: str = ""
    checkpoint_every_hours: float = 24.0  # the scheduler signs a checkpoint this often (0: never)
    checkpoint_mail_to: str | None = None
    # The server (`wijkflow serve`, issue 18). `identity`: "claimed" trusts --as / WIJKFLOW_USER (one
    # person on their own SQLite file); "server" refuses local writes, so changes go through the server,
    # whose people signed in. `server_url`: the public address people open (links in emails). The cookie
    # key is made on first `serve` (mode 0600) like the audit key. `cookie_secure` off only for plain
    # http on localhost. OIDC: the provider's issuer URL, this client's id and secret; a person is the
    # one whose verified email the provider names. `login_links`: one-time sign-in links by email.
    identity: Literal["claimed", "server"] = "claimed"
    server_url: str | None = None
    session_key_file: str = ""
    cookie_secure: bool = True
    session_hours: float = 8.0
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    login_links: bool = True
    token_days: int = 90
    config_file: str | None = None
    sources: dict[str, str] = {}
    # What each setting that was given looked like (text from the environment or the file, a
    # flag's value): `wijkflow config` shows a setting as it was written.
    _given: dict[str, Any] = PrivateAttr(default_factory=dict)

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)  # load_settings has merged flags, environment and file already

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        _zone(value)
        return value

    @field_validator("smtp_port", mode="before")
    @classmethod
    def _port(cls, value: Any) -> int | None:
        if value is None:
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _refuse(f"The SMTP port '{value}' is not a number.") from None

    @field_validator("smtp_security", mode="before")
    @classmethod
    def _security(cls, value: Any) -> Any:
        if value not in ("starttls", "ssl", "none"):
            raise _refuse(f"WIJKFLOW_SMTP_SECURITY must be starttls, ssl or none, not '{value}'.")
        return value

    @field_validator("now", mode="before")
    @classmethod
    def _fixed_clock(cls, value: Any, info: ValidationInfo) -> datetime | None:
        if value is None or value == "":
            return None
        if isinstance(value, datetime):
            moment = value
        else:
            try:
                moment = datetime.fromisoformat(str(value))
            except ValueError:
                raise _refuse(f"WIJKFLOW_NOW '{value}' is not an ISO date-time "
                              "(e.g. 2026-03-01T09:00:00+01:00).") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=_zone(info.data.get("timezone", "Europe/Amsterdam")))
        if not 1900 <= moment.year <= 9000:  # days are added to it (deadlines, reminders): keep far from 1 and 9999
            raise _refuse(f"WIJKFLOW_NOW '{value}' must lie between the years 1900 and 9000.")
        return moment.astimezone(UTC)

    @field_validator("smtp_timeout", mode="before")
    @classmethod
    def _timeout(cls, value: Any) -> float:
        seconds = _seconds(value, "WIJKFLOW_SMTP_TIMEOUT")
        # Not nan, inf, 0 or negative: a server that never answers must not hold the sweep forever.
        if not 0 < seconds <= MAX_SMTP_TIMEOUT:
            raise _refuse(f"WIJKFLOW_SMTP_TIMEOUT must be a number of seconds more than 0 and at most "
                          f"{MAX_SMTP_TIMEOUT:,} (one hour), not {shorten(value)}.")
        return seconds

    @field_validator("closing_days", mode="before")
    @classmethod
    def _closing_days(cls, value: Any) -> frozenset[date]:
        if not value:
            return frozenset()
        items: Iterable[Any] = (value if isinstance(value, list | tuple | set | frozenset)
                                else str(value).replace(";", ",").split(","))
        days = set()
        for item in items:
            if isinstance(item, date):
                days.add(item)
                continue
            text = str(item).strip()
            if not text:
                continue
            try:
                days.add(date.fromisoformat(text))
            except ValueError:
                raise _refuse(f"Closing day '{text}' is not a date (YYYY-MM-DD).") from None
        return frozenset(days)

    @field_validator("reminder_hour", mode="before")
    @classmethod
    def _hour(cls, value: Any) -> int:
        try:
            hour = int(value)
        except (TypeError, ValueError):
            hour = -1
        if isinstance(value, bool) or not 0 <= hour <= 23:
            raise _refuse("WIJKFLOW_REMINDER_HOUR must be an hour of the day (0-23).")
        return hour

    @field_validator("reminder_shift", mode="before")
    @classmethod
    def _shift(cls, value: Any) -> Any:
        if value not in ("next_working_day", "none"):
            raise _refuse(f"WIJKFLOW_REMINDER_SHIFT must be next_working_day or none, not '{value}'.")
        return value

    @field_validator("mail_digest", "cookie_secure", "login_links", mode="before")
    @classmethod
    def _truthy(cls, value: Any) -> bool:
        return value is not None and str(value).strip().lower() in _TRUE

    @field_validator("lease_seconds", mode="before")
    @classmethod
    def _lease(cls, value: Any) -> float:
        seconds = _seconds(value, "WIJKFLOW_LEASE_SECONDS")
        # Not nan, inf, 0 or negative; and at most a day (a live sweep renews its claims long before).
        if not 0 < seconds <= MAX_LEASE_SECONDS:
            raise _refuse(f"WIJKFLOW_LEASE_SECONDS must be a number of seconds more than 0 and at most "
                          f"{MAX_LEASE_SECONDS:,} (one day), not {shorten(value)}.")
        return seconds

    @field_validator("checkpoint_every_hours", mode="before")
    @classmethod
    def _checkpoint_hours(cls, value: Any) -> float:
        try:
            hours = float(str(value).strip())
        except ValueError:
            hours = -1.0
        if not 0 <= hours <= 24 * 366:  # also refuses nan and inf
            raise _refuse(f"WIJKFLOW_CHECKPOINT_EVERY_HOURS must be a number of hours from 0 (never) to 8784, "
                          f"not {shorten(str(value))}.")
        return hours

    @field_validator("identity", mode="before")
    @classmethod
    def _identity(cls, value: Any) -> Any:
        if value not in ("claimed", "server"):
            raise _refuse(f"WIJKFLOW_IDENTITY must be claimed or server, not '{shorten(str(value))}'.")
        return value

    def zone(self) -> ZoneInfo:
        """The time zone in effect (validated when the settings were loaded)."""
        return _zone(self.timezone)

    def shown(self) -> dict[str, Any]:
        """What is in effect, as it was given, passwords masked, with where each value came from."""
        out: dict[str, Any] = {}
        for name in SETTINGS:
            if name in ("smtp_port", "lease_seconds", "database_url"):
                value: Any = getattr(self, name)  # shown as the number (or the full URL) they were read as
            else:
                value = self._given.get(name, getattr(self, name))
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if name in ("smtp_password", "oidc_client_secret") and value:
                value = MASK
            elif name == "database_url":
                value = mask_url(value)
            elif name == "closing_days" and not value:
                value = None
            out[name] = {"value": value, "from": self.sources.get(name, "default")}
        out["config_file"] = {"value": self.config_file, "from": "default"}
        return out


# Setting name -> its environment variable. Every setting may also be a flag and a wijkflow.toml key.
SETTINGS = [name for name in Settings.model_fields if name not in ("config_file", "sources")]
ENV = {name: f"WIJKFLOW_{name.upper()}" for name in SETTINGS}


def mask_url(url: str) -> str:
    """A database URL with its password, if any, replaced by asterisks."""
    return _URL_PASSWORD.sub(lambda m: m["head"] + (MASK if m["password"] else "") + "@", url, count=1)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):
        raise _refuse(f"WIJKFLOW_TIMEZONE '{shorten(name)}' is not a known time zone "
                      "(e.g. Europe/Amsterdam).") from None


def load_settings(*, flags: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None,
                  config_path: str | None = None) -> Settings:
    """The settings in effect: flags, then the environment (`env`, default os.environ), then
    wijkflow.toml (`config_path`, else WIJKFLOW_CONFIG, else the user config directory)."""
    env = os.environ if env is None else env
    flags = flags or {}
    chosen = config_path or env.get("WIJKFLOW_CONFIG")
    path = Path(chosen) if chosen else Path(user_config_dir(APP_NAME, appauthor=False)) / "wijkflow.toml"
    file_values = _read_file(path, required=bool(chosen))
    given: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name in SETTINGS:
        for source, value in (("flag", flags.get(name)), (f"env {ENV[name]}", env.get(ENV[name])),
                              (f"file {path}", (file_values or {}).get(name))):
            if value not in (None, ""):
                given[name] = value
                sources[name] = source
                break
    defaults: dict[str, Any] = {}
    data = Path(user_data_dir(APP_NAME, appauthor=False))
    for name, default in (("database_url", f"sqlite:///{data / 'wijkflow.db'}"), ("outbox_dir", str(data / "outbox")),
                          ("audit_key_file", str(data / "audit-signing-key.pem"))):
        if name not in given:
            defaults[name] = default
            sources[name] = "default (user data directory)"
    try:
        settings = Settings(**given, **defaults, sources=sources,
                            config_file=str(path) if file_values is not None else None)
    except ValidationError as exc:
        raise InvalidInput(_sentence(exc, sources)) from None
    settings._given = given
    return settings


def _read_file(path: Path, *, required: bool) -> dict[str, Any] | None:
    """The settings in a wijkflow.toml; None when there is none (and none was asked for)."""
    try:
        is_file = path.is_file()
    except OSError as exc:  # e.g. a name longer than the file system allows
        raise InvalidInput(f"The configuration file {shorten(path)} cannot be read: {exc.strerror}.") from None
    if not is_file:
        if required:
            raise InvalidInput(f"The configuration file {path} does not exist.")
        return None
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"The configuration file {path} cannot be read: {exc}.") from None
    unknown = set(values) - set(ENV)
    if unknown:
        raise InvalidInput(f"The configuration file {path} has unknown settings: {', '.join(sorted(unknown))}.")
    return values


def _sentence(exc: ValidationError, sources: Mapping[str, str]) -> str:
    """pydantic's first complaint as one sentence; our validators already wrote theirs."""
    error = exc.errors()[0]
    if error["type"] == "wijkflow_setting":
        return str(error["msg"])
    name = str(error["loc"][0]) if error["loc"] else "?"
    where = sources.get(name, "default")
    return f"The setting {name} ({where}) is not valid: {error['msg'][:1].lower()}{error['msg'][1:]}."
