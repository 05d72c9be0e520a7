"""Aanpakken, the roles people hold on them, their criteria records and deadlines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from ..definitions import Definition
from ..errors import Conflict
from ..models import AANPAK, DEADLINE, DEFINITION, EVENT, RECORD, ROLE
from . import fastpath
from .areas import in_area
from .common import Row, insert_row, no_such_aanpak, place_filters, streamed
from .definitions import definition

# Run on every lifecycle step: see fastpath.py for why these are not Core.
find_aanpak_with_person = fastpath.find_aanpak_with_person
roles = fastpath.roles
records = fastpath.records


def find_aanpak(conn: sa.Connection, ref: str) -> Row:
    """The aanpak by number or slug, with its definition's content hash as `definition_hash`.

    On the fast path: every step and every reminder sent reads an aanpak (see fastpath.py)."""
    row = fastpath.find_aanpak(conn, ref)
    if row is None:
        raise no_such_aanpak(ref)
    return row


@dataclass
class LoadedAanpak:
    """One aanpak with its pinned definition and who holds which role on it."""

    row: Any
    definition: Definition
    roles: list[Any]

    def holders(self, role: str) -> set[int]:
        return {r.person_id for r in self.roles if r.role == role}


def load_aanpak(conn: sa.Connection, ref: str, definitions: dict[str, Definition], *,
                row: Row | None = None) -> LoadedAanpak:
    """The aanpak (or the `row` already read), its definition (parsed once: `definitions` is
    app.definitions) and its roles."""
    row = row if row is not None else find_aanpak(conn, ref)
    return LoadedAanpak(row=row, definition=definition(conn, definitions, row.definition_id, row.definition_hash),
                        roles=roles(conn, row.id))


def aanpak_version(conn: sa.Connection, ref: str) -> int:
    """Only the version (find_aanpak without the join): advance's early read."""
    version = fastpath.aanpak_version(conn, ref)
    if version is None:
        raise no_such_aanpak(ref)
    return version


def slug_taken(conn: sa.Connection, slug: str) -> bool:
    return conn.execute(sa.select(AANPAK.c.id).where(AANPAK.c.slug == slug)).first() is not None


def insert_aanpak(conn: sa.Connection, **values: Any) -> int:
    return insert_row(conn, AANPAK, values)


def change_phase(conn: sa.Connection, aanpak_id: int, *, expected_version: int, phase: str,
                 now: datetime) -> None:
    """Version-checked: exactly one of two concurrent phase changes lands."""
    if fastpath.change_phase(conn, aanpak_id, expected_version=expected_version, phase=phase, now=now) != 1:
        raise Conflict("Someone else changed this wijkaanpak's phase first; nothing was written. "
                       "Look again with `wijkflow show` and retry.")


def move_to_definition(conn: sa.Connection, aanpak_id: int, *, definition_id: int, phase: str,
                       now: datetime) -> None:
    """`wijkflow migrate`: the aanpak follows a new definition version (same visit, same phase_since)."""
    conn.execute(AANPAK.update().where(AANPAK.c.id == aanpak_id).values(
        definition_id=definition_id, phase=phase, version=AANPAK.c.version + 1, updated_at=now))


def set_status(conn: sa.Connection, aanpak_id: int, status: str, now: datetime) -> None:
    """active | suspended | stopped (models.Aanpak.status); the phase stays as it is."""
    conn.execute(AANPAK.update().where(AANPAK.c.id == aanpak_id).values(status=status, updated_at=now))


def reenter_phase(conn: sa.Connection, aanpak_id: int, phase: str, now: datetime) -> None:
    """`reopen` of a closed aanpak: back in `phase`, a new visit of it from `now`, active again.

    The version stays: it counts phase changes through gates (a closed aanpak has no gate out)."""
    conn.execute(AANPAK.update().where(AANPAK.c.id == aanpak_id).values(
        phase=phase, phase_since=now, visit=AANPAK.c.visit + 1, status="active", updated_at=now))


def phase_left(conn: sa.Connection, aanpak_id: int) -> str | None:
    """The phase the latest phase-setting event came from (for a closed aanpak: the phase it left)."""
    return conn.execute(sa.select(EVENT.c.from_phase).where(
        EVENT.c.aanpak_id == aanpak_id, EVENT.c.to_phase.is_not(None))
        .order_by(EVENT.c.id.desc()).limit(1)).scalar()


def event_of(conn: sa.Connection, aanpak_id: int, type_: str, at: datetime) -> int | None:
    """The id of the event that recorded a change made at `at` (what a correction points at)."""
    found: int | None = conn.execute(sa.select(EVENT.c.id).where(
        EVENT.c.aanpak_id == aanpak_id, EVENT.c.type == type_, EVENT.c.at == at)
        .order_by(EVENT.c.id.desc()).limit(1)).scalar()
    return found


def touch_aanpak(conn: sa.Connection, aanpak_id: int, now: datetime) -> None:
    conn.execute(AANPAK.update().where(AANPAK.c.id == aanpak_id).values(updated_at=now))


def _aanpakken(columns: list[Any], *, phase: str | None, wijk: str | None, gemeente: str | None,
               area: str | None = None) -> sa.Select[Any]:
    query = sa.select(*columns).select_from(AANPAK.join(DEFINITION, DEFINITION.c.id == AANPAK.c.definition_id))
    if phase:
        query = query.where(AANPAK.c.phase == phase)
    if area:
        query = query.where(in_area(area))
    return query.where(*place_filters(wijk=wijk, gemeente=gemeente))


_LISTED = [AANPAK, DEFINITION.c.name.label("workflow"), DEFINITION.c.version.label("workflow_version")]


def list_aanpakken(conn: sa.Connection, *, phase: str | None = None, wijk: str | None = None,
                   gemeente: str | None = None, area: str | None = None) -> list[Row]:
    return list(stream_aanpakken(conn, phase=phase, wijk=wijk, gemeente=gemeente, area=area))


def stream_aanpakken(conn: sa.Connection, *, phase: str | None = None, wijk: str | None = None,
                     gemeente: str | None = None, area: str | None = None) -> Iterator[Row]:
    """The aanpakken with their workflow, fetched in batches: memory stays flat however large the portfolio.
    `area`: a CBS code the aanpak's codes lie in or contain (store/areas.py)."""
    query = _aanpakken(_LISTED, phase=phase, wijk=wijk, gemeente=gemeente, area=area).order_by(AANPAK.c.id)
    yield from streamed(conn, query)


def count_aanpakken(conn: sa.Connection, *, phase: str | None = None, wijk: str | None = None,
                    gemeente: str | None = None, area: str | None = None) -> int:
    return int(conn.execute(_aanpakken([sa.func.count()], phase=phase, wijk=wijk, gemeente=gemeente,
                                       area=area)).scalar_one())


def wijk_exists(conn: sa.Connection, wijk: str) -> bool:
    return conn.execute(sa.select(AANPAK.c.id).where(*place_filters(wijk=wijk, gemeente=None)).limit(1)).first() \
        is not None


def gemeente_exists(conn: sa.Connection, gemeente: str) -> bool:
    return conn.execute(sa.select(AANPAK.c.id).where(*place_filters(wijk=None, gemeente=gemeente))
                        .limit(1)).first() is not None


# --- roles ----------------------------------------------------------------------------


def add_role(conn: sa.Connection, aanpak_id: int, person_id: int, role: str) -> bool:
    exists = conn.execute(sa.select(ROLE.c.id).where(
        ROLE.c.aanpak_id == aanpak_id, ROLE.c.person_id == person_id, ROLE.c.role == role)).first()
    if exists:
        return False
    conn.execute(ROLE.insert().values(aanpak_id=aanpak_id, person_id=person_id, role=role))
    return True


# --- criteria -------------------------------------------------------------------------


def insert_record(conn: sa.Connection, **values: Any) -> int:
    return insert_row(conn, RECORD, values)


def withdraw_record(conn: sa.Connection, record_id: int, now: datetime) -> None:
    conn.execute(RECORD.update().where(RECORD.c.id == record_id).values(withdrawn_at=now))


def remove_role(conn: sa.Connection, aanpak_id: int, person_id: int, role: str) -> bool:
    """The role ends (the history keeps that it was held: `role_unassigned`)."""
    return conn.execute(ROLE.delete().where(ROLE.c.aanpak_id == aanpak_id, ROLE.c.person_id == person_id,
                                            ROLE.c.role == role)).rowcount > 0


def roles_of_person(conn: sa.Connection, person_id: int) -> list[Row]:
    """Every role the person holds, on every aanpak (aanpak_id, role)."""
    return list(conn.execute(sa.select(ROLE.c.aanpak_id, ROLE.c.role).where(ROLE.c.person_id == person_id)
                             .order_by(ROLE.c.id)))


def aanpak_keys(conn: sa.Connection) -> list[Row]:
    """What `import` matches rows on: every aanpak's name, wijk, gemeente and external ref."""
    return list(conn.execute(sa.select(AANPAK.c.id, AANPAK.c.slug, AANPAK.c.name, AANPAK.c.wijk, AANPAK.c.gemeente,
                                       AANPAK.c.external_ref).order_by(AANPAK.c.id)))


def update_aanpak(conn: sa.Connection, aanpak_id: int, now: datetime, **values: Any) -> None:
    """Name, wijk, gemeente or external ref (`import --update`); never the phase."""
    conn.execute(AANPAK.update().where(AANPAK.c.id == aanpak_id).values(updated_at=now, **values))


def ended_roles(conn: sa.Connection, aanpak_id: int) -> set[str]:
    """Roles someone held on the aanpak and no longer does (`role_unassigned` events): maybe vacant now."""
    payloads = conn.execute(sa.select(EVENT.c.payload).where(
        EVENT.c.aanpak_id == aanpak_id, EVENT.c.type == "role_unassigned")).scalars()
    return {str(json.loads(p or "{}").get("role")) for p in payloads}


def rename_aanpak(conn: sa.Connection, aanpak_id: int, name: str, now: datetime) -> None:
    conn.execute(AANPAK.update().where(AANPAK.c.id == aanpak_id).values(name=name, updated_at=now))


def set_deadline(conn: sa.Connection, aanpak_id: int, criterion: str, due: date) -> date | None:
    old: date | None = conn.execute(sa.select(DEADLINE.c.due).where(
        DEADLINE.c.aanpak_id == aanpak_id, DEADLINE.c.criterion == criterion)).scalar()
    if old is None:
        conn.execute(DEADLINE.insert().values(aanpak_id=aanpak_id, criterion=criterion, due=due))
    else:
        conn.execute(DEADLINE.update().where(
            DEADLINE.c.aanpak_id == aanpak_id, DEADLINE.c.criterion == criterion).values(due=due))
    return old


def deadlines(conn: sa.Connection, aanpak_id: int) -> dict[str, date]:
    rows = conn.execute(sa.select(DEADLINE.c.criterion, DEADLINE.c.due).where(DEADLINE.c.aanpak_id == aanpak_id))
    return {r.criterion: r.due for r in rows}
