"""What the roles on an aanpak are called, for people: one wording, in every language.

The keys (projectleider, coordinator, approver) are what definitions, the CLI and the
database use; these labels are for reports and mail.
"""

from __future__ import annotations

from .i18n import N_, t

ROLE_LABELS = {
    "projectleider": N_("project leader"),
    "coordinator": N_("coordinator (wijkregisseur)"),
    "approver": N_("steering group member"),
}


def role_label(role: str, locale: str | None) -> str:
    """The role's name in `locale`; a role wijkflow does not know keeps its key."""
    msgid = ROLE_LABELS.get(role)
    return t(locale, msgid) if msgid else role
