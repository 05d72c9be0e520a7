"""The use-cases: each is one function, one transaction. The CLI calls exactly one per command.

Each name is imported from its module on first use, so a command pays only for the use-case it
runs (`wijkflow show` need not load the import, plan or reminder machinery).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {
    "assign_role": "aanpak", "create_aanpak": "aanpak", "gate_status": "aanpak", "list_aanpakken": "aanpak",
    "show_aanpak": "aanpak",
    "history": "history",
    "add_indicator": "indicators", "interpret": "indicators", "measure": "indicators", "progress": "indicators",
    "update_indicator": "indicators",
    "advance": "lifecycle", "approve": "lifecycle", "complete": "lifecycle", "set_deadline": "lifecycle",
    "add_person": "people", "forget_person": "people", "list_people": "people",
    "add_activity": "plan", "add_analysis": "plan", "add_partner": "plan", "plan_view": "plan",
    "update_activity": "plan",
    "import_portfolio": "portfolio_import",
    "link_theme": "themes", "theme_view": "themes",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'wijkflow.services' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # next time a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
