"""HTML reports: Jinja2 templates (autoescaped, StrictUndefined) with inline CSS and SVG.

One self-contained file per report: no scripts, fonts or images from elsewhere, so it can
be mailed, archived and printed to PDF as it is. The portfolio page carries a few lines of
inline script to sort its table by any column; without scripts it is sorted by wijk.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

ROLE_NL = {"projectleider": "projectleider", "coordinator": "coördinator / wijkregisseur",
           "approver": "stuurgroep (goedkeurder)"}


def environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined,
                      autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["nl_date"] = nl_date
    env.filters["nl_day"] = lambda iso: nl_date(iso[:10]) if iso else ""
    env.filters["num"] = lambda v: "" if v is None else f"{v:g}"
    env.globals["ROLE_NL"] = ROLE_NL
    env.filters["why_nl"] = why_nl
    return env


def nl_date(iso: str | None) -> str:
    """'2026-03-02T10:00:00+01:00' -> '02-03-2026 10:00'; dates stay dates."""
    if not iso:
        return ""
    day = f"{iso[8:10]}-{iso[5:7]}-{iso[0:4]}"
    return f"{day} {iso[11:16]}" if len(iso) > 10 else day


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def describe(e: dict[str, Any]) -> str:
    """What one history event was, in Dutch, for the report's history table."""
    p = e["payload"]
    who = (p.get("person") or {}).get("name") or (f"#{p['person_id']}" if p.get("person_id") else "")
    t = e["type"]
    if t == "aanpak_created":
        return f"Aanpak gestart in fase {e['to_label']}"
    if t == "phase_changed":
        return f"Fase {e['from_label']} → {e['to_label']}" + (" (poort overruled)" if p.get("override") else "")
    if t == "gate_overridden":
        return "Poort overruled door beheerder; niet voldaan: " + ", ".join(p.get("unmet", []))
    if t == "criterion_completed":
        return f"Opgeleverd: {p.get('label', p.get('criterion'))}"
    if t == "criterion_approved":
        return f"Goedgekeurd: {p.get('label', p.get('criterion'))}"
    if t == "role_assigned":
        return f"{who} is {ROLE_NL.get(p.get('role', ''), p.get('role'))}"
    if t == "deadline_set":
        return f"Deadline {p.get('criterion')}: {nl_date(p.get('due'))}"
    if t == "indicator_added":
        return f"Indicator toegevoegd: {p.get('label', p.get('key'))}"
    if t == "measurement_recorded":
        return f"Meting {p.get('indicator')}: {p.get('value'):g} ({nl_date(p.get('date'))})"
    return t.replace("_", " ")


# The gate engine explains itself in English (CLI output); the reports are Dutch.
_WHY_NL = [
    (r"not completed yet", "nog niet opgeleverd"),
    (r"completed", "opgeleverd"),
    (r"approved", "goedgekeurd"),
    (r"not approved yet \(by someone with the (\w+) role\)", r"nog niet goedgekeurd (door iemand met de rol \1)"),
    (r"'(\w+)' is not completed yet", r"'\1' is nog niet opgeleverd"),
    (r"'(\w+)' changed after it was approved; approve again",
     r"'\1' is na de goedkeuring gewijzigd; opnieuw goedkeuren"),
    (r"approved by the same person who completed it \(four-eyes\)",
     "goedgekeurd door wie het ook opleverde (vier-ogenprincipe)"),
    (r"(\d+) days in phase \(at least (\d+)\)", r"\1 dagen in deze fase (minimaal \2)"),
    (r"(\d+) of (\d+) days in phase; met from (\S+)", r"\1 van \2 dagen in deze fase; voldaan vanaf \3"),
    (r"(\d+) indicators complete", r"\1 indicatoren compleet"),
    (r"(\d+) indicators recorded, at least (\d+) needed", r"\1 indicatoren vastgelegd, minimaal \2 nodig"),
]


def why_nl(why: str | None) -> str:
    """The Dutch for a gate criterion's reason; parts it does not know stay as they are."""
    if not why:
        return ""
    for pattern, dutch in _WHY_NL:
        if re.fullmatch(pattern, why):
            return re.sub(pattern, dutch, why)
    parts = []
    for part in why.split("; "):  # indicator reasons come as several parts
        part = re.sub(r"^no baseline for (.+)$", r"geen nulmeting voor \1", part)
        part = re.sub(r"^fewer than (\d+) measurements for (.+)$", r"minder dan \1 metingen voor \2", part)
        parts.append(part)
    return "; ".join(parts)
