"""What the roles on an aanpak (and an erased person) are called, for people, in every language.

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


# How a person who was erased (AVG) appears wherever their name would be.
FORGOTTEN_PERSON = N_("(forgotten person)")


def person_name(name: str | None, locale: str | None) -> str:
    """A person's name as person_ref gave it, with the erased person said in `locale`."""
    return t(locale, FORGOTTEN_PERSON) if name == FORGOTTEN_PERSON else name or ""


def role_label(role: str, locale: str | None) -> str:
    """The role's name in `locale`; a role wijkflow does not know keeps its key."""
    msgid = ROLE_LABELS.get(role)
    return t(locale, msgid) if msgid else role
