"""Jinja2 environments and local formats (dates, numbers) for reports and mail, made one way.

Both the HTML reports (templates/) and the reminder emails (notifications/) render files
with StrictUndefined, trimmed blocks and autoescaped HTML; they differ only in which
names are escaped and whether a trailing newline is kept. Dates and numbers are written
the local way by Babel (CLDR): "2 maart 2026", "7,5"; English dates as in Britain.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from .i18n import normal_locale

# CLDR locale per wijkflow locale: English dates read "2 March 2026", as the emails always wrote them.
BABEL_LOCALES = {"nl": "nl_NL", "en": "en_GB"}


@cache
def jinja() -> Any:
    """The jinja2 module (with its sandbox), imported on first use.

    Jinja2's one seam: only reports and mail render templates, so plain CLI commands never load it.
    """
    import jinja2
    import jinja2.sandbox  # noqa: F401 - jinja2.sandbox.SandboxedEnvironment for definition-supplied subjects

    return jinja2


def environment(directory: str | Path, *, escape: tuple[str, ...] = ("html",), escape_other: bool = False,
                keep_trailing_newline: bool = False) -> Any:
    """A Jinja2 environment over the templates in `directory`.

    escape: the file extensions whose output is HTML-escaped; escape_other: escape every other
    template (and templates from strings) too.
    """
    j = jinja()
    return j.Environment(
        loader=j.FileSystemLoader(str(directory)), undefined=j.StrictUndefined,
        autoescape=j.select_autoescape(enabled_extensions=escape, default_for_string=escape_other,
                                     default=escape_other),
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=keep_trailing_newline)


def _babel() -> tuple[Any, Any]:
    # Babel's seam for formats: only reports and mail write local dates and numbers (60 ms to import).
    from babel import dates, numbers

    return dates, numbers


def _cldr(locale: str | None) -> str:
    return BABEL_LOCALES[normal_locale(locale)]


def long_date(day: date, locale: str | None) -> str:
    """2 maart 2026 / 2 March 2026."""
    dates, _ = _babel()
    return str(dates.format_date(day, format="long", locale=_cldr(locale)))


def long_moment(moment: datetime, locale: str | None) -> str:
    """2 maart 2026 10:05, in the moment's own time zone (the caller gives it local)."""
    dates, _ = _babel()
    local = moment.replace(tzinfo=None)
    return f"{long_date(local.date(), locale)} {dates.format_time(local, format='short', locale=_cldr(locale))}"


def month_label(day: date, locale: str | None) -> str:
    """The month on its own, abbreviated: mrt / Mar."""
    dates, _ = _babel()
    return str(dates.format_date(day, format="LLL", locale=_cldr(locale)))


def number(value: float | int, locale: str | None) -> str:
    """7,5 and 1.234 in Dutch; every decimal the value has is kept."""
    _, numbers = _babel()
    return str(numbers.format_decimal(value, locale=_cldr(locale), decimal_quantization=False))


def iso_text(iso: str | None, locale: str | None) -> str:
    """An ISO date or moment from a service result ('2026-03-02', '2026-03-02T10:00:00+01:00'), written out."""
    if not iso:
        return ""
    if len(iso) <= 10:
        return long_date(date.fromisoformat(iso), locale)
    return long_moment(datetime.fromisoformat(iso), locale)
