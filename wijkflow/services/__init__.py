"""The use-cases: each is one function, one transaction. The CLI calls exactly one per command."""

from .aanpak import assign_role, create_aanpak, gate_status, list_aanpakken, show_aanpak
from .history import history
from .indicators import add_indicator, interpret, measure, progress, update_indicator
from .lifecycle import advance, approve, complete, set_deadline
from .people import add_person, forget_person, list_people
from .plan import add_activity, add_analysis, add_partner, plan_view, update_activity
from .portfolio_import import import_portfolio
from .themes import link_theme, theme_view

__all__ = [
    "add_indicator", "add_person", "advance", "approve", "assign_role", "complete", "create_aanpak",
    "forget_person", "gate_status", "history", "list_aanpakken", "list_people", "measure", "progress",
    "set_deadline", "show_aanpak",
    # programmes: indicators judged, wijkontwikkelingsplan, themes, import
    "add_activity", "add_analysis", "add_partner", "import_portfolio", "interpret", "link_theme", "plan_view",
    "theme_view", "update_activity", "update_indicator",
]
