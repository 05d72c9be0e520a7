"""Programme data of an aanpak: interpretations, the plan (points, partners, activities), themes with
their intended results, and multi-party approvals."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..models import ACTIVITY, INTERPRETATION, PARTY, PLAN_PARTNER, PLAN_POINT, RESULT, THEME
from .common import Row, insert_row, rows_of_aanpak

# --- interpretations ------------------------------------------------------------------


def interpretations(conn: sa.Connection, aanpak_id: int, visit: int | None = None) -> list[Row]:
    if visit is None:
        return rows_of_aanpak(conn, INTERPRETATION, aanpak_id)
    return rows_of_aanpak(conn, INTERPRETATION, aanpak_id, INTERPRETATION.c.visit == visit)


def insert_interpretation(conn: sa.Connection, **values: Any) -> int:
    return insert_row(conn, INTERPRETATION, values)


# --- the wijkontwikkelingsplan: analysis points, partners, activities -------------------


def plan_points(conn: sa.Connection, aanpak_id: int) -> list[Row]:
    return rows_of_aanpak(conn, PLAN_POINT, aanpak_id)


def insert_plan_point(conn: sa.Connection, **values: Any) -> int:
    return insert_row(conn, PLAN_POINT, values)


def plan_partners(conn: sa.Connection, aanpak_id: int) -> list[Row]:
    return rows_of_aanpak(conn, PLAN_PARTNER, aanpak_id)


def insert_plan_partner(conn: sa.Connection, **values: Any) -> int:
    return insert_row(conn, PLAN_PARTNER, values)


def activities(conn: sa.Connection, aanpak_id: int) -> list[Row]:
    return rows_of_aanpak(conn, ACTIVITY, aanpak_id, order=ACTIVITY.c.number)


def activity(conn: sa.Connection, aanpak_id: int, number: int) -> Row | None:
    return conn.execute(sa.select(ACTIVITY).where(ACTIVITY.c.aanpak_id == aanpak_id,
                                                  ACTIVITY.c.number == number)).first()


def insert_activity(conn: sa.Connection, **values: Any) -> int:
    """Numbers activities 1, 2, ... per aanpak; the write transaction serialises the numbering."""
    last = conn.execute(sa.select(sa.func.max(ACTIVITY.c.number))
                        .where(ACTIVITY.c.aanpak_id == values["aanpak_id"])).scalar()
    number = int(last or 0) + 1
    conn.execute(ACTIVITY.insert().values(number=number, **values))
    return number


def update_activity(conn: sa.Connection, activity_id: int, **values: Any) -> None:
    conn.execute(ACTIVITY.update().where(ACTIVITY.c.id == activity_id).values(**values))


# --- themes and intended results ----------------------------------------------------------


def themes(conn: sa.Connection, aanpak_id: int) -> list[tuple[Row, list[Row]]]:
    rows = rows_of_aanpak(conn, THEME, aanpak_id)
    if not rows:
        return []
    results = list(conn.execute(sa.select(RESULT).join(THEME, THEME.c.id == RESULT.c.theme_id)
                                .where(THEME.c.aanpak_id == aanpak_id).order_by(RESULT.c.id)))
    return [(t, [r for r in results if r.theme_id == t.id]) for t in rows]


def theme(conn: sa.Connection, aanpak_id: int, key: str) -> Row | None:
    return conn.execute(sa.select(THEME).where(THEME.c.aanpak_id == aanpak_id, THEME.c.key == key)).first()


def insert_theme(conn: sa.Connection, **values: Any) -> int:
    return insert_row(conn, THEME, values)


def insert_intended_result(conn: sa.Connection, **values: Any) -> int:
    return insert_row(conn, RESULT, values)


def aanpak_ids_with_theme(conn: sa.Connection, key: str) -> set[int]:
    return set(conn.execute(sa.select(THEME.c.aanpak_id).where(THEME.c.key == key)).scalars())


def themes_by_aanpak(conn: sa.Connection) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for r in conn.execute(sa.select(THEME.c.aanpak_id, THEME.c.label).order_by(THEME.c.id)):
        out.setdefault(r.aanpak_id, []).append(r.label)
    return out


# --- multi-party sign-off -------------------------------------------------------------------


def party_approvals(conn: sa.Connection, aanpak_id: int, visit: int) -> list[Row]:
    return rows_of_aanpak(conn, PARTY, aanpak_id, PARTY.c.visit == visit)


def insert_party_approval(conn: sa.Connection, **values: Any) -> int:
    return insert_row(conn, PARTY, values)


def remove_party_approval(conn: sa.Connection, approval_id: int) -> None:
    """A sign-off withdrawn: the row goes so the party may sign again (one row per party and visit);
    the history keeps both the signature and its withdrawal (`party_approval_withdrawn`)."""
    conn.execute(PARTY.delete().where(PARTY.c.id == approval_id))
