"""What the reminders read about one aanpak: its row, its pinned definition, its roles, its facts.

Fan-out (is the occurrence still relevant, who receives it) and composing (which criteria are
still open) both start here, so both see the aanpak the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from .. import gates, store
from ..definitions import Definition, ReminderRule


@dataclass(frozen=True)
class Aanpak:
    """One aanpak with its pinned definition and who holds which role on it."""

    row: Any
    definition: Definition
    roles: list[Any]

    def holders(self, role: str) -> set[int]:
        return {r.person_id for r in self.roles if r.role == role}

    def rule(self, key: str) -> ReminderRule | None:
        """The reminder rule `key` of the aanpak's definition; None once the definition dropped it."""
        return next((r for r in self.definition.reminders if r.key == key), None)

    def facts(self, conn: sa.Connection) -> gates.Facts:
        return gates.load_facts(conn, self.row, self.definition)


def load(conn: sa.Connection, aanpak_id: int) -> Aanpak:
    row = store.find_aanpak(conn, str(aanpak_id))
    return Aanpak(row=row, definition=store.definition(conn, row.definition_id, row.definition_hash),
                  roles=store.roles(conn, row.id))
