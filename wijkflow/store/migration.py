"""The reminder rows `wijkflow migrate` keeps in step when an aanpak moves to a new definition version."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from ..models import REMINDER


def rename_reminder_phase(conn: sa.Connection, aanpak_id: int, *, visit: int, old: str, new: str,
                          now: datetime) -> int:
    """Pending occurrences of this visit of phase `old` belong to `new` now (the phase was renamed)."""
    return conn.execute(REMINDER.update().where(
        REMINDER.c.aanpak_id == aanpak_id, REMINDER.c.status == "pending", REMINDER.c.visit == visit,
        REMINDER.c.phase == old).values(phase=new, updated_at=now)).rowcount


def last_period(conn: sa.Connection, aanpak_id: int, *, rule: str, visit: int) -> int | None:
    """The last period of an every-rule in this visit that was not cancelled (sent, queued or failed)."""
    return conn.execute(sa.select(sa.func.max(REMINDER.c.seq)).where(
        REMINDER.c.aanpak_id == aanpak_id, REMINDER.c.rule == rule, REMINDER.c.kind == "every",
        REMINDER.c.visit == visit, REMINDER.c.status != "cancelled")).scalar()
