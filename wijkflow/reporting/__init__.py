"""HTML reports: Jinja2 templates (autoescaped, StrictUndefined) with inline CSS and SVG.

One self-contained file per report: no scripts, fonts or images from elsewhere, so it can
be mailed, archived and printed to PDF as it is. The portfolio page carries a few lines of
inline script to sort its table by any column; without scripts it is sorted by wijk.

Reports are Dutch: text comes from the message catalogue (event sentences, role labels,
gate reasons rendered by the services in "nl"), dates and numbers are written by Babel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import events, templating
from ..roles import person_name, role_label

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
LOCALE = "nl"


def environment() -> Any:
    env = templating.environment(TEMPLATES, escape=("html", "j2"), escape_other=True)
    env.filters["nl_date"] = nl_date
    env.filters["nl_day"] = lambda iso: nl_date(iso[:10]) if iso else ""
    env.filters["num"] = lambda v: "" if v is None else templating.number(v, LOCALE)
    env.filters["role"] = lambda role: role_label(role, LOCALE)
    env.filters["person"] = lambda name: person_name(name, LOCALE)
    return env


def nl_date(iso: str | None) -> str:
    """'2026-03-02T10:00:00+01:00' -> '2 maart 2026 10:00'; dates stay dates ('2 maart 2026')."""
    return templating.iso_text(iso, LOCALE)


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def describe(e: dict[str, Any], locale: str = LOCALE) -> str:
    """What one history event was, in Dutch (or `locale`), for the report's history table."""
    return events.describe(e, locale, "sentence")
