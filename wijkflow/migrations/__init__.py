"""The schema's history, with Alembic: create, recognise, stamp and upgrade a database.

The migration scripts ship inside the package (`versions/`) and Alembic is configured in
code, so an installed wheel needs no alembic.ini. Every upgrade runs in one transaction
on the caller's connection: it lands whole or not at all (SQLite and PostgreSQL both
have transactional DDL).

A database is recognised by looking (recognise.py): its tables and columns are compared with
what each revision makes. One made before wijkflow had migrations (`create_all`, no
`alembic_version` table) is stamped with the revision it matches and then upgraded, never
recreated; the first core's, which lacks tables the first revision has, gets them made first.
A database that matches nothing is refused and left as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..errors import StorageError
from .recognise import Unrecognised, expected_shapes, recognise

HERE = Path(__file__).resolve().parent
FIRST = "0001"
# A table of every schema: its presence tells "made by wijkflow before migrations" from "empty".
MARKER_TABLE = "audit_event"


@dataclass(frozen=True)
class Revision:
    revision: str
    down: str | None
    message: str


def _config(conn: sa.Connection | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes["connection"] = conn
    return cfg


@cache
def _script() -> Any:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


def load() -> None:
    """Import Alembic and read the revision scripts now, outside any transaction.

    Done under the write lock instead, every concurrent `wijkflow init` would hold the
    lock for its imports (about a second on a busy machine) and the sixth would wait past
    the busy timeout.
    """
    from alembic import command  # noqa: F401
    from alembic.migration import MigrationContext  # noqa: F401

    _script()
    expected_shapes()  # every revision run once in memory: what each one's tables look like


def head() -> str:
    return _script().get_current_head()


def known(revision: str) -> bool:
    return any(r.revision == revision for r in _script().walk_revisions())


def history() -> list[Revision]:
    """Every revision, oldest first."""
    revs = list(_script().walk_revisions())
    revs.reverse()
    return [Revision(r.revision, r.down_revision, (r.doc or "").strip().splitlines()[0]) for r in revs]


def current(conn: sa.Connection) -> str | None:
    """The revision this database is at; None when it has no wijkflow tables at all.

    A database made before migrations reports the first revision (it has that schema).
    """
    from alembic.migration import MigrationContext

    rev = MigrationContext.configure(conn).get_current_revision()
    if rev is None and sa.inspect(conn).has_table(MARKER_TABLE):
        return FIRST
    return rev


def upgrade(conn: sa.Connection, target: str = "head",
            create: Callable[[sa.Connection], None] | None = None) -> tuple[str | None, str]:
    """Bring the database on `conn` (inside the caller's transaction) to `target`.

    Returns (revision before, revision after); before is None for an empty database.
    `create` makes an empty database's schema at head in one go (create_all), which is
    what every migration from the first would make, but faster; then it is stamped head.
    """
    from alembic import command
    from alembic.migration import MigrationContext

    cfg = _config(conn)
    stamped = MigrationContext.configure(conn).get_current_revision()
    if stamped is not None and not known(stamped):

        raise StorageError(f"The database is at schema revision {stamped}, which this wijkflow does not know "
                           f"(newest here: {head()}): a newer wijkflow upgraded it; use that version.")
    try:
        found = recognise(conn, stamped, FIRST)
    except Unrecognised as err:
        raise StorageError(f"The database's tables match no wijkflow schema revision ({err}); nothing was "
                           "changed: give the right database, or restore a backup wijkflow made.") from None
    if found.revision is None:
        if create is not None and target == "head":
            create(conn)
            MigrationContext.configure(conn).stamp(_script(), "head")
            return None, head()
        command.upgrade(cfg, target)
        return None, MigrationContext.configure(conn).get_current_revision() or ""
    if found.missing:
        _baseline(conn)
    if stamped is None:
        command.stamp(cfg, found.revision)  # made before migrations: recognised by its tables
    command.upgrade(cfg, target)
    return found.revision, MigrationContext.configure(conn).get_current_revision() or ""


def _baseline(conn: sa.Connection) -> None:
    """Make the first revision's tables a database lacks (the first revision creates only what is missing)."""
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    context = MigrationContext.configure(conn, opts={"render_as_batch": True})
    with Operations.context(context):
        _script().get_revision(FIRST).module.upgrade()
