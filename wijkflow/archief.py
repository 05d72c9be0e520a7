"""What the Archiefwet asks of an aanpak's dossier, from its definition's `archief:` block.

A closed aanpak's dossier is transferred to the archiefbewaarplaats (blijvend bewaren) or may be
destroyed (vernietigen) once the bewaartermijn has passed since it was closed; `show` and the
report say which and from when (`zgw.zaak_documents` writes it as the zaak's archiefactiedatum).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from dateutil.relativedelta import relativedelta

from .definitions import ArchiefRegime, Definition

_PERIOD = re.compile(r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?")


def add_period(day: date, period: str) -> date:
    m = _PERIOD.fullmatch(period)
    assert m is not None  # the definition's pattern admits only these
    years, months, days_ = (int(x or 0) for x in m.groups())
    return day + relativedelta(years=years, months=months, days=days_)


def period_text(period: str) -> str:
    m = _PERIOD.fullmatch(period)
    assert m is not None
    parts = [(m[1], "year"), (m[2], "month"), (m[3], "day")]
    return ", ".join(f"{n} {unit}{'s' if n != '1' else ''}" for n, unit in parts if n) or "0 days"


def dossier(d: Definition, *, closed_on: date | None, stopped: bool = False) -> dict[str, Any] | None:
    """The regime that applies and, once closed, the day from which it applies; None without `archief:`."""
    if d.archief is None:
        return None
    regime: ArchiefRegime = (d.archief.gestopt or d.archief) if stopped else d.archief
    when = add_period(closed_on, regime.bewaartermijn) if closed_on else None
    action = "transfer" if regime.archiefnominatie == "blijvend_bewaren" else "destroy"
    fate = {"archiefnominatie": regime.archiefnominatie, "bewaartermijn": regime.bewaartermijn,
            "action": action, "date": when.isoformat() if when else None}
    return {**fate, "text": dossier_sentence(fate)}


def dossier_sentence(fate: dict[str, Any]) -> str:
    """One line for `show`: what happens to the dossier, and when."""
    term = period_text(fate["bewaartermijn"])
    verb = ("must be transferred to the archiefbewaarplaats" if fate["action"] == "transfer"
            else "may be destroyed")
    label = fate["archiefnominatie"].replace("_", " ")
    if fate["date"]:
        return f"{label}: the dossier {verb} from {fate['date']} ({term} after closing)"
    return f"{label}: once closed, the dossier {verb} {term} after closing"
