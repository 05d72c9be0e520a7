"""Which schema revision a database is at, found by looking at its tables and columns.

The expected shape after every revision is not written down by hand (a list like that goes
stale with the next revision): it is measured, once per process, by running the revisions one
by one on an empty in-memory SQLite database and reading its tables and columns after each.
A database is then compared with those shapes:

- stamped (it has `alembic_version`): its tables must be the stamped revision's;
- not stamped (made before wijkflow had migrations): the oldest revision with exactly its tables;
- either way, when the only difference is that some tables the first revision makes are
  missing (the first core had 7 of them; programmes and reminders added the rest before
  migrations existed, and an older wijkflow stamped such a database 0001 without making them),
  the baseline makes them: the first revision creates only what is missing.

Anything else is not a database wijkflow can recognise, and nothing is changed in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

Shape = dict[str, frozenset[str]]

VERSION_TABLE = "alembic_version"
# A database without these is not a wijkflow database, whatever else it holds: the first core had them.
CORE_TABLES = frozenset({"audit_event", "person", "workflow_definition", "aanpak"})
MAX_NAMED = 3  # differences named in the refusal


@dataclass(frozen=True)
class Finding:
    revision: str | None  # None: no wijkflow tables at all (a new database)
    missing: list[str] = field(default_factory=list)  # tables the baseline (first revision) will make


class Unrecognised(Exception):
    """The database's tables match no revision; `differences` names how they differ from the nearest."""

    def __init__(self, differences: list[str]) -> None:
        super().__init__("; ".join(differences))
        self.differences = differences


def shape_of(conn: sa.Connection) -> Shape:
    """Tables (except Alembic's and SQLite's own) and their column names."""
    inspector = sa.inspect(conn)
    return {name: frozenset(c["name"] for c in inspector.get_columns(name))
            for name in inspector.get_table_names()
            if name != VERSION_TABLE and not name.startswith("sqlite_")}


@cache
def expected_shapes() -> dict[str, Shape]:
    """revision -> the shape right after it, measured on an empty in-memory SQLite database."""
    from alembic import command
    from alembic.migration import MigrationContext

    from . import _config, history

    engine = sa.create_engine("sqlite://", poolclass=StaticPool)
    shapes: dict[str, Shape] = {}
    try:
        with engine.connect() as conn, conn.begin():
            cfg = _config(conn)
            for rev in history():
                command.upgrade(cfg, rev.revision)
                assert MigrationContext.configure(conn).get_current_revision() == rev.revision
                shapes[rev.revision] = shape_of(conn)
    finally:
        engine.dispose()
    return shapes


def recognise(conn: sa.Connection, stamped: str | None, first: str) -> Finding:
    """What the database on `conn` is; raises Unrecognised when it is none of wijkflow's schemas."""
    actual = shape_of(conn)
    if not actual:
        if stamped is not None:
            raise Unrecognised([f"it is stamped schema revision {stamped} but holds no wijkflow tables"])
        return Finding(None)
    shapes = expected_shapes()
    if stamped is not None:
        candidates = [stamped]
    else:
        # The oldest revision with exactly these tables, else the nearest one (fewest differences),
        # so that the refusal names what is really off rather than every later revision's additions.
        candidates = [rev for rev, shape in shapes.items() if shape == actual][:1] or [
            min(shapes, key=lambda r: len(_differences(actual, shapes[r])) + len(set(shapes[r]) - set(actual)))]
    rev = candidates[0]
    expected = shapes[rev]
    if actual == expected:
        return Finding(rev)
    problems = _differences(actual, expected)
    missing = sorted(set(expected) - set(actual))
    baseline = shapes[first]
    fillable = (not problems and CORE_TABLES <= set(actual)
                and all(t in baseline and baseline[t] == expected[t] for t in missing))
    if fillable:
        return Finding(rev, missing)
    raise Unrecognised((problems or [f"table {t} is missing" for t in missing])[:MAX_NAMED])


def _differences(actual: Shape, expected: Shape) -> list[str]:
    """How `actual` differs from `expected`, leaving out tables that are merely missing."""
    found = []
    for table in sorted(actual):
        if table not in expected:
            found.append(f"table {table} is not one of wijkflow's")
            continue
        for col in sorted(expected[table] - actual[table]):
            found.append(f"table {table} lacks column {col}")
        for col in sorted(actual[table] - expected[table]):
            found.append(f"table {table} has a column {col} wijkflow does not know")
    return found
