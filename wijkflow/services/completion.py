"""What the shell completes from the database: aanpak slugs, phases, criteria, people (cli/complete.py)."""

from __future__ import annotations

import sqlalchemy as sa

from .. import store
from ..app import App
from ..models import AANPAK
from .common import load

LIMIT = 200  # a shell shows at most a screenful; more only slows the key press down


def aanpak_slugs(app: App, prefix: str) -> list[tuple[str, str]]:
    """(slug, name) of the aanpakken whose slug starts with `prefix`."""
    with app.db.read() as conn:
        rows = conn.execute(sa.select(AANPAK.c.slug, AANPAK.c.name)
                            .where(AANPAK.c.slug.startswith(prefix, autoescape=True))
                            .order_by(AANPAK.c.slug).limit(LIMIT))
        return [(r.slug, r.name) for r in rows]


def phase_keys(app: App, ref: str | None) -> list[tuple[str, str]]:
    """(key, label) of the phases of REF's definition, or of every stored definition without one."""
    with app.db.read() as conn:
        if ref:
            return [(p.key, p.label) for p in load(conn, ref, app.definitions).definition.phases]
        seen: dict[str, str] = {}
        for r in store.stored_definitions(conn):
            for p in store.definition(conn, app.definitions, r.id).phases:
                seen.setdefault(p.key, p.label)
        return sorted(seen.items())


def criterion_keys(app: App, ref: str) -> list[tuple[str, str]]:
    """(key, label) of the criteria of REF's definition."""
    with app.db.read() as conn:
        return sorted((k, c.label) for k, c in load(conn, ref, app.definitions).definition.criteria.items())


def person_emails(app: App, prefix: str) -> list[tuple[str, str]]:
    """(email, name) of the people whose email starts with `prefix` (forgotten people have none)."""
    with app.db.read() as conn:
        return [(p.email, p.name or "") for p in store.list_people(conn)
                if p.email and p.email.startswith(prefix.lower())][:LIMIT]
