"""HTML reports: Jinja2 templates (autoescaped, StrictUndefined) with inline CSS and SVG.

One self-contained file per report: no scripts, fonts or images from elsewhere, so it can
be mailed, archived and printed to PDF as it is. The portfolio page carries a few lines of
inline script to sort its table by any column; without scripts it is sorted by wijk.
"""

from __future__ import annotations

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
