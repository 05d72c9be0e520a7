"""Indicators of an aanpak and their measurements."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..models import INDICATOR, MEASUREMENT
from .common import Row, insert_row, rows_of_aanpak


def indicators(conn: sa.Connection, aanpak_id: int) -> list[Row]:
    return rows_of_aanpak(conn, INDICATOR, aanpak_id)


def indicator(conn: sa.Connection, aanpak_id: int, key: str) -> Row | None:
    return conn.execute(sa.select(INDICATOR).where(INDICATOR.c.aanpak_id == aanpak_id,
                                                   INDICATOR.c.key == key)).first()


def insert_indicator(conn: sa.Connection, **values: Any) -> int:
    return insert_row(conn, INDICATOR, values)


def update_indicator(conn: sa.Connection, indicator_id: int, **values: Any) -> None:
    conn.execute(INDICATOR.update().where(INDICATOR.c.id == indicator_id).values(**values))


def measurements(conn: sa.Connection, aanpak_id: int) -> list[Row]:
    """Every measurement of the aanpak's indicators that counts (not withdrawn), oldest first, with its key."""
    return list(conn.execute(
        sa.select(MEASUREMENT, INDICATOR.c.key).join(INDICATOR, INDICATOR.c.id == MEASUREMENT.c.indicator_id)
        .where(INDICATOR.c.aanpak_id == aanpak_id, MEASUREMENT.c.withdrawn_at.is_(None))
        .order_by(MEASUREMENT.c.measured_on, MEASUREMENT.c.id)))


def measurement(conn: sa.Connection, measurement_id: int) -> Row | None:
    """One measurement by id (withdrawn or not), with its indicator's key and aanpak."""
    return conn.execute(
        sa.select(MEASUREMENT, INDICATOR.c.key, INDICATOR.c.aanpak_id, INDICATOR.c.label)
        .join(INDICATOR, INDICATOR.c.id == MEASUREMENT.c.indicator_id)
        .where(MEASUREMENT.c.id == measurement_id)).first()


def correct_measurement(conn: sa.Connection, measurement_id: int, value: float) -> None:
    """The corrected figure; the old one stays in the history (the `measurement_corrected` event)."""
    conn.execute(MEASUREMENT.update().where(MEASUREMENT.c.id == measurement_id).values(value=value))


def withdraw_measurement(conn: sa.Connection, measurement_id: int, now: Any) -> None:
    conn.execute(MEASUREMENT.update().where(MEASUREMENT.c.id == measurement_id).values(withdrawn_at=now))


def insert_measurement(conn: sa.Connection, **values: Any) -> int:
    return insert_row(conn, MEASUREMENT, values)


def indicator_facts(conn: sa.Connection, aanpak_id: int) -> list[tuple[Row, list[Row]]]:
    """Each indicator with its measurements, oldest first."""
    ms = measurements(conn, aanpak_id)
    return [(i, [m for m in ms if m.key == i.key]) for i in indicators(conn, aanpak_id)]


def measurement_exists(conn: sa.Connection, indicator_id: int, *, measured_on: Any, source: str, value: float,
                       area_code: str | None) -> bool:
    """Whether this very figure was recorded already (`measure import` of the same file twice changes nothing)."""
    return conn.execute(sa.select(MEASUREMENT.c.id).where(
        MEASUREMENT.c.indicator_id == indicator_id, MEASUREMENT.c.measured_on == measured_on,
        MEASUREMENT.c.source == source, MEASUREMENT.c.value == value,
        MEASUREMENT.c.area_code == area_code).limit(1)).first() is not None
