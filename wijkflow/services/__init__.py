"""The use-cases: each is one function, one transaction. The CLI calls exactly one per command.

    from wijkflow import services
    services.advance(app, "wijkaanpak-noord", acting="pl@hengelo.nl")

The everyday use-cases are imported here. Those with heavier machinery (reports, reminders,
audit, schema, migrate, as-of views) are imported from their own module:
`from wijkflow.services.audit import verify`. No module here is named like a function it
exports, so importing a module never hides a function (`services.history` stays the function).
"""

from __future__ import annotations

from .aanpak import assign_role, create_aanpak, gate_status, list_aanpakken, show_aanpak
from .history_view import history
from .indicators import add_indicator, interpret, measure, progress, update_indicator
from .lifecycle import advance, approve, complete, set_deadline
from .people import add_person, forget_person, list_people
from .plan import add_activity, add_analysis, add_partner, plan_view, update_activity
from .portfolio_import import import_portfolio
from .themes import link_theme, theme_view

__all__ = [
    "add_activity", "add_analysis", "add_indicator", "add_partner", "add_person", "advance", "approve",
    "assign_role", "complete", "create_aanpak", "forget_person", "gate_status", "history", "import_portfolio",
    "interpret", "link_theme", "list_aanpakken", "list_people", "measure", "plan_view", "progress",
    "set_deadline", "show_aanpak", "theme_view", "update_activity", "update_indicator",
]
