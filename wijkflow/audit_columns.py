"""The audit export's columns and the texts its cells share with `audit query`'s table.

Apart from the services on purpose: the CLI's table renderer and the web's download use them too, and
the CLI imports this at start-up (no SQLAlchemy, no App).
"""

from __future__ import annotations

from typing import Any

__all__ = ["COLUMNS", "gate_cell", "who"]

# The columns of `audit query --format csv`, of `audit export`, and of the auditor's download on the web.
COLUMNS = ["id", "at", "aanpak", "wijk", "gemeente", "type", "actor_id", "actor", "actor_email", "from_phase",
           "to_phase", "reason", "evidence", "override", "gate", "payload", "prev_hash", "hash",
           # What the leaf hash covers that the columns above leave out (docs/audit-format.md): the aanpak's
           # number and the moment in UTC to the microsecond; and the leaf hash itself. Then where the change
           # came from (canonical JSON as stored and digested; empty before revision 0008).
           "aanpak_id", "at_utc", "leaf", "origin"]


def who(person: dict[str, Any] | None) -> str:
    """A person as the audit texts name them: the name, else the email, else the number (erased)."""
    if not person:
        return ""
    return person.get("name") or person.get("email") or f"#{person.get('id')}"


def gate_cell(gate: list[dict[str, Any]]) -> str:
    """The `gate` column: each criterion of the gate an event passed, met or not, by whom, on what evidence."""
    return "; ".join(
        f"{c['key']}: {'met' if c['met'] else 'NOT met'}" + (f" by {who(c['by'])}" if c["by"] else "")
        + (f" ({c['evidence']})" if c["evidence"] else "") for c in gate)
