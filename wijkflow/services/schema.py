"""The database itself: its schema revision, upgrading it, and copying it to another database.

`copy_database` moves everything (SQLite -> PostgreSQL is the usual move) into an empty
database: the target's schema is made at the newest revision, then every table is copied
in foreign-key order, in batches, ids kept, all in one transaction on the target. The audit
chain is copied as is, read back and verified on the target inside that transaction, and its
head compared with the source's head read in the same snapshot as the rows: a copy that fails
either is rolled back, so a failed copy leaves the target as it was (a SQLite file it made is
removed) and running it again works.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from .. import audit, migrations, models, store
from ..app import App
from ..db import Database, normalise_url
from ..errors import AuditFailed, Conflict, InvalidInput, StorageError
from ..outputs import DATABASE_COMPANIONS, check_output

COPY_BATCH = 2000


def schema_status(app: App) -> dict[str, Any]:
    current = app.db.revision()
    newest = migrations.head()
    return {"database": app.db.where, "revision": current, "head": newest, "up_to_date": current == newest,
            "known": current is None or migrations.known(current)}


def schema_history(app: App) -> list[dict[str, Any]]:
    current = app.db.revision() if app.db.path is None or app.db.path.exists() else None
    return [{"revision": r.revision, "down_revision": r.down, "description": r.message,
             "current": r.revision == current} for r in migrations.history()]


def upgrade(app: App) -> dict[str, Any]:
    before, after = app.db.upgrade()
    return {"database": app.db.where, "before": before, "after": after, "created": before is None,
            "changed": before != after}


def _tables() -> list[sa.Table]:
    return list(models.METADATA.sorted_tables)  # parents before children


def _occupied(conn: sa.Connection, tables: list[sa.Table]) -> str | None:
    """The first wijkflow table in the target that holds a row, if any."""
    present = set(sa.inspect(conn).get_table_names())
    for table in tables:
        if table.name in present and conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first():
            return table.name
    return None


def copy_database(app: App, to_url: str, *, batch: int = COPY_BATCH,
                  progress: Callable[[int], None] | None = None,
                  start: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Copy the whole database into the empty one at `to_url`; returns counts and the verified chain head.

    `start(total_rows)` is called once before copying, `progress(rows)` after each batch.
    """
    source = app.db
    if normalise_url(to_url) == source.url:
        raise InvalidInput("The target is the database being copied; give another --to.")
    current, newest = source.revision(), migrations.head()
    if current is None:
        raise InvalidInput(f"There is nothing to copy: {source.where} has no wijkflow tables.")
    if current != newest:
        raise InvalidInput(f"The database at {source.where} is at schema revision {current}, not {newest}; "
                           "run `wijkflow db upgrade` first.")
    target = Database(to_url)
    if not (target.is_sqlite or target.url.startswith("postgresql")):
        raise InvalidInput(f"wijkflow stores its data in SQLite or PostgreSQL, not at {target.where}; give a "
                           "SQLite path or a postgresql+psycopg:// URL.")
    if target.path is not None and target.path.parent.is_dir():
        # outputs.py: never the source (by a link or another name) or its journal, a link, a FIFO or a
        # device; an existing regular file is for the emptiness check below.
        check_output(target.path, database=source.path, ours=lambda _: True, kind="copy")
    tables = _tables()
    counts: dict[str, int] = {}
    made_file = target.path is not None and not target.path.exists()
    with source.read() as src:
        if src.dialect.name == "postgresql":
            src.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        for table in tables:
            counts[table.name] = src.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
        # The source's head in the same snapshot as the rows: what the copy must end in, however many
        # events other processes append to the source meanwhile.
        head = store.chain_head(src)
        if start is not None:
            start(sum(counts.values()))
        done = False
        try:
            with target._errors(), target.engine.connect() as dst:
                dst.info["write"] = True
                with dst.begin():
                    occupied = _occupied(dst, tables)
                    if occupied is not None:
                        raise Conflict(f"The database at {target.where} already holds wijkflow data (table "
                                       f"{occupied}); copy only into an empty database. Nothing was written.")
                    if not target.is_sqlite:
                        dst.exec_driver_sql("SELECT pg_advisory_xact_lock(4243)")
                    migrations.upgrade(dst, create=target._create_schema)
                    for table in tables:
                        _copy_table(src, dst, table, batch, progress)
                    if not target.is_sqlite:
                        _reset_sequences(dst, tables)
                    # Verified before the commit: a copy that does not verify is rolled back, so the
                    # target stays as it was and the copy can simply be run again.
                    verified = _verify_copy(dst, head.hash if head is not None else None)
            done = True
        finally:
            target.dispose()
            if not done and made_file and target.path is not None:  # the file this failed copy made: gone
                for suffix in DATABASE_COMPANIONS:
                    Path(f"{target.path}{suffix}").unlink(missing_ok=True)
    return {"from": source.where, "to": target.where, "tables": counts, "rows": sum(counts.values()), **verified}


def _copy_table(src: sa.Connection, dst: sa.Connection, table: sa.Table, batch: int,
                progress: Callable[[int], None] | None) -> None:
    order = list(table.primary_key.columns)
    result = src.execution_options(yield_per=batch).execute(sa.select(table).order_by(*order))
    for part in result.mappings().partitions(batch):
        dst.execute(table.insert(), [dict(row) for row in part])
        if progress is not None:
            progress(len(part))


def _reset_sequences(dst: sa.Connection, tables: list[sa.Table]) -> None:
    """Ids were copied as they were: the next id PostgreSQL hands out must come after them."""
    for table in tables:
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or not isinstance(pk[0].type, sa.Integer):
            continue
        seq = dst.exec_driver_sql(f"SELECT pg_get_serial_sequence('{table.name}', '{pk[0].name}')").scalar()
        if seq:
            dst.exec_driver_sql(f"SELECT setval('{seq}', coalesce((SELECT max({pk[0].name}) FROM {table.name}), 0) + 1,"
                                " false)")


def _verify_copy(dst: sa.Connection, source_head: str | None) -> dict[str, Any]:
    """The copied chain, read back from the target inside the copy's transaction: it verifies and ends
    in the source's head (read in the copy's snapshot), or the copy is refused."""
    verdict = audit.walk((audit.stored_event(r) for r in store.stream_stored(dst)),
                         find_by_hash=lambda h: store.event_id_by_hash(dst, h))
    if not verdict.ok:
        raise AuditFailed(f"The copied history does not verify: {(verdict.problem or '').rstrip('.')}; "
                          "nothing was written to the target.")
    copied = verdict.head_hash if verdict.checked else None
    if copied != source_head:
        raise StorageError("The copy's history verifies but its head differs from the source's; "
                           "nothing was written to the target.")
    return {"events": verdict.checked, "head_hash": copied, "verified": True}
