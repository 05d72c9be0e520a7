"""Stored workflow definitions: every version an aanpak was ever pinned to."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from ..definitions import Definition
from ..errors import InvalidInput
from ..models import DEFINITION
from .common import Row, inserted_id


def pin_definition(conn: sa.Connection, d: Definition, now: datetime) -> int:
    """The id of the stored copy of this definition version, storing it the first time.

    A file edited without raising its version is refused: aanpakken already pinned to
    that version must keep the rules they started with.
    """
    digest = d.content_hash()
    row = conn.execute(sa.select(DEFINITION.c.id, DEFINITION.c.hash).where(
        DEFINITION.c.name == d.name, DEFINITION.c.version == d.version)).first()
    if row is not None:
        if row.hash != digest:
            raise InvalidInput(
                f"Workflow '{d.name}' version {d.version} was changed after aanpakken started on it; "
                f"give the changed definition a new version number (e.g. {d.version + 1}).")
        return int(row.id)
    return inserted_id(conn.execute(DEFINITION.insert().values(
        name=d.name, version=d.version, hash=digest, body=d.canonical_json(), loaded_at=now)))


def definition(conn: sa.Connection, cache: dict[str, Definition], definition_id: int,
               digest: str | None = None) -> Definition:
    """The stored definition, parsed once per content hash: stored versions never change.

    `cache`: the App's (`app.definitions`), content hash -> parsed definition.
    `digest`: the hash when the caller already read it (find_aanpak returns it as definition_hash).
    """
    if digest is None:
        digest = conn.execute(sa.select(DEFINITION.c.hash).where(DEFINITION.c.id == definition_id)).scalar_one()
    cached = cache.get(digest)
    if cached is None:
        body = conn.execute(sa.select(DEFINITION.c.body).where(DEFINITION.c.id == definition_id)).scalar_one()
        cached = cache[digest] = Definition.model_validate_json(body)
    return cached


def stored_definitions(conn: sa.Connection) -> list[Row]:
    return list(conn.execute(sa.select(DEFINITION).order_by(DEFINITION.c.name, DEFINITION.c.version)))


def definition_id_by_version(conn: sa.Connection, name: str, version: int) -> int | None:
    return conn.execute(sa.select(DEFINITION.c.id).where(
        DEFINITION.c.name == name, DEFINITION.c.version == version)).scalar()
