"""The filters people type (`list`, `audit query`): one check, so one value means the same everywhere.

A phase is given by its key (`execute`) or its Dutch label (`Uitvoeren`), in any case; a wijk or
gemeente must be one some aanpak has (case-insensitive). Anything else is refused (exit 4) with the
valid choices, rather than silently matching nothing.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from .. import store
from ..errors import NotFound


def phase_choices(conn: sa.Connection, definitions: dict[str, Any]) -> dict[str, str]:
    """key -> Dutch label of every phase of every workflow version in this database."""
    out: dict[str, str] = {}
    for r in store.stored_definitions(conn):
        for p in store.definition(conn, definitions, r.id).phases:
            out.setdefault(p.key, p.label)
    return out


def resolve_phase(conn: sa.Connection, definitions: dict[str, Any], phase: str) -> str:
    """The phase key for a key or label typed in any case; NotFound with the choices."""
    wanted = " ".join(phase.split()).casefold()
    choices = phase_choices(conn, definitions)
    for r in store.stored_definitions(conn):
        for p in store.definition(conn, definitions, r.id).phases:
            # "Uitvoeren / sturen op verandering" is also called "Uitvoeren", as people say it.
            if wanted in (p.key.casefold(), p.label.casefold(), p.label.split(" / ")[0].strip().casefold()):
                return p.key
    listed = ", ".join(f"{k} ({label})" for k, label in sorted(choices.items())) or "none yet"
    raise NotFound(f"No workflow in this database has a phase '{phase}' (phases: {listed}).")


def check_places(conn: sa.Connection, *, wijk: str | None, gemeente: str | None) -> None:
    if wijk and not store.wijk_exists(conn, wijk):
        raise NotFound(f"No wijkaanpak is in wijk '{wijk}' (`wijkflow list` shows the wijken).")
    if gemeente and not store.gemeente_exists(conn, gemeente):
        raise NotFound(f"No wijkaanpak is in gemeente '{gemeente}' (`wijkflow list` shows them).")


def resolve(conn: sa.Connection, definitions: dict[str, Any], *, phase: str | None, wijk: str | None,
            gemeente: str | None) -> str | None:
    """Check the place filters and return the phase key (None when no phase was asked for)."""
    check_places(conn, wijk=wijk, gemeente=gemeente)
    return resolve_phase(conn, definitions, phase) if phase else None
