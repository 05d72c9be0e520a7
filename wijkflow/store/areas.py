"""The CBS area codes of aanpakken (aanpak_area)."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from ..models import AANPAK, AREA

KINDS = {"GM": "gemeente", "WK": "wijk", "BU": "buurt"}
ORDER = {"GM": 0, "WK": 1, "BU": 2}


def _ordered(codes: list[str]) -> list[str]:
    """Gemeente, wijk, then the buurten in code order."""
    return sorted(codes, key=lambda c: (ORDER[c[:2]], c))


def area_codes(conn: sa.Connection, aanpak_id: int) -> list[str]:
    return _ordered([r.code for r in conn.execute(sa.select(AREA.c.code).where(AREA.c.aanpak_id == aanpak_id))])


def set_area_codes(conn: sa.Connection, aanpak_id: int, codes: Iterable[str]) -> None:
    """Replace the aanpak's codes with `codes`."""
    conn.execute(AREA.delete().where(AREA.c.aanpak_id == aanpak_id))
    rows = [{"aanpak_id": aanpak_id, "code": c, "kind": KINDS[c[:2]]} for c in codes]
    if rows:
        conn.execute(AREA.insert(), rows)


def all_area_codes(conn: sa.Connection) -> dict[int, list[str]]:
    """Every aanpak's codes (a few short strings each): `list` shows them beside each row."""
    out: dict[int, list[str]] = {}
    for r in conn.execute(sa.select(AREA.c.aanpak_id, AREA.c.code).order_by(AREA.c.aanpak_id, AREA.c.code)):
        out.setdefault(r.aanpak_id, []).append(r.code)
    return {k: _ordered(v) for k, v in out.items()}


def in_area(code: str) -> sa.ColumnElement[bool]:
    """Aanpakken with a code that lies in `code`, or a wijk code that contains it: `--area WK016401`
    finds the aanpakken on that wijk and on its buurten, `--area BU01640102` also the aanpak on its wijk.
    (Every aanpak with codes has its gemeente's, so a gemeente code never counts as containing.)

    The part after the prefix holds the codes of the areas it lies in (GM0164 < WK016401 <
    BU01640102), so "lies in" is "starts with"."""
    path = code[2:]
    inside = sa.select(AREA.c.aanpak_id).where(sa.or_(
        sa.func.substr(AREA.c.code, 3).startswith(path, autoescape=True),
        sa.and_(AREA.c.kind == "wijk", sa.literal(path).startswith(sa.func.substr(AREA.c.code, 3)))))
    return AANPAK.c.id.in_(inside)


def aanpak_ids_for_codes(conn: sa.Connection, codes: Iterable[str]) -> dict[str, list[int]]:
    """code -> the aanpakken holding exactly that code (`measure import` matches figures to aanpakken)."""
    wanted = sorted(set(codes))
    out: dict[str, list[int]] = {}
    for i in range(0, len(wanted), 500):
        for r in conn.execute(sa.select(AREA.c.code, AREA.c.aanpak_id).where(AREA.c.code.in_(wanted[i:i + 500]))
                              .order_by(AREA.c.aanpak_id)):
            out.setdefault(r.code, []).append(r.aanpak_id)
    return out
