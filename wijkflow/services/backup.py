"""`wijkflow db backup FILE`: a consistent copy of a live SQLite database, checked before it is kept.

The copy is made with SQLite's backup API (Database.backup: one read transaction, so one
snapshot however many processes write meanwhile; a plain `cp` of a live file can catch a
half-written WAL and give a damaged copy). It is written to a temporary file beside FILE,
then checked twice: SQLite's integrity check, and the audit chain recomputed over every event.
Only a copy that passes both is renamed to FILE, so FILE is a sound backup or is not there.
The copy's chain head is returned: kept outside the database, it proves a restore complete
(`wijkflow audit verify --expect-head HEAD` on the restored database).

PostgreSQL has its own tool for this, pg_dump (a consistent snapshot too); README's "Backups"
says how, and how to restore and prove the restore the same way.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from ..app import App
from ..db import single_file
from ..errors import InvalidInput, StorageError
from ..outputs import DATABASE_COMPANIONS, check_output, shown
from . import audit as audit_service


def backup_database(app: App, path: str, *, force: bool = False) -> dict[str, Any]:
    """Back the SQLite database up to `path`; returns where, the events and the copy's verified head."""
    db = app.db
    if not db.is_sqlite:
        raise InvalidInput("wijkflow db backup copies a SQLite file; back up PostgreSQL with pg_dump "
                           "(pg_dump --format=custom --file=wijkflow.dump DATABASE; README: \"Backups\").")
    if db.path is None or not db.path.exists():
        raise StorageError(f"There is no database at {db.where} to back up.")
    # outputs.py: never the database itself or its journal, a link, a directory, a device; an existing
    # file only with --force.
    target = check_output(path, database=db.path, ours=None, force=force, kind="backup").resolve()
    fd, tmp_name = tempfile.mkstemp(prefix=".wijkflow-backup-", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        db.backup(tmp)
        verdict = _verify(app, tmp)
        single_file(tmp)  # opening it to verify made it a WAL database again
        check_output(target, database=db.path, ours=None, force=force, kind="backup")  # unchanged meanwhile?
        try:
            os.replace(tmp, target)
        except OSError as exc:
            raise StorageError(f"Cannot write {shown(target)}: {exc.strerror or exc}.") from None
    finally:
        for suffix in DATABASE_COMPANIONS:
            Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    return {"database": db.where, "backup": str(target), "bytes": target.stat().st_size,
            "events": verdict["checked"], "head_id": verdict["head_id"], "head_hash": verdict["head_hash"],
            "integrity": "ok", "verified": True}


def _verify(app: App, copy_path: Path) -> dict[str, Any]:
    """The copy passes SQLite's integrity check and its whole chain verifies, or StorageError."""
    copy = App.open(str(copy_path), clock=app.now)
    try:
        try:
            copy.db.check_integrity()
        except StorageError as err:
            raise StorageError(f"The backup did not pass SQLite's integrity check, so it was not kept: "
                               f"{err.message} Check the database with `wijkflow audit verify`.") from None
        return audit_service.verify(copy)
    finally:
        copy.close()
