"""Opening the database, and the only two kinds of transaction wijkflow uses.

SQLite: WAL, a busy timeout, foreign keys on, and every write transaction starts with
BEGIN IMMEDIATE. A deferred transaction that reads and then writes fails at once with
"database is locked" when another writer got in between, whatever the busy timeout;
taking the write lock up front makes writers queue instead.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc

from . import migrations, models
from .errors import Conflict, StorageError, WijkflowError, shorten

BUSY_TIMEOUT_MS = 5000
CACHE_KIB = 32_000  # per connection; see _on_connect

# Audit events are append-only. The one change allowed is erasing an event's content for retention or
# privacy (`audit purge`): reason, evidence and origin emptied, payload '{}', their digests kept in `erased`,
# every other column as it was; the event's leaf hash commits to those digests, so every proof stays valid.
# (Revision 0008 writes the same; an origin can only ever become NULL, once, together with the content.)
_KEPT = ("id", "at", "aanpak_id", "type", "actor_id", "from_phase", "to_phase", "prev_hash", "hash", "leaf")
_ERASE_ONLY = ("OLD.erased IS NULL AND NEW.erased IS NOT NULL AND NEW.reason IS NULL AND NEW.evidence IS NULL "
               "AND NEW.payload = '{}' AND NEW.origin IS NULL AND ")
_SQLITE_TRIGGERS = [
    "CREATE TRIGGER IF NOT EXISTS audit_event_append_only_update BEFORE UPDATE ON audit_event WHEN NOT ("
    + _ERASE_ONLY + " AND ".join(f"NEW.{c} IS OLD.{c}" for c in _KEPT) + ")"
    " BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
    """CREATE TRIGGER IF NOT EXISTS audit_event_append_only_delete BEFORE DELETE ON audit_event
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END""",
]

_POSTGRES_TRIGGERS = [
    "CREATE OR REPLACE FUNCTION wijkflow_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "IF TG_OP = 'UPDATE' AND " + _ERASE_ONLY
    + " AND ".join(f"NEW.{c} IS NOT DISTINCT FROM OLD.{c}" for c in _KEPT)
    + " THEN RETURN NEW; END IF; RAISE EXCEPTION 'audit events are append-only'; END $$",
    "DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event",
    """CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
       FOR EACH ROW EXECUTE FUNCTION wijkflow_append_only()""",
]


def normalise_url(url: str) -> str:
    """Accept a plain file path as well as a SQLAlchemy URL."""
    if "://" in url:
        return url
    return f"sqlite:///{Path(url).expanduser().resolve()}"


class Database:
    def __init__(self, url: str, *, identity: str = "claimed") -> None:
        self.url = normalise_url(url)
        # settings.identity: every connection handed out carries it (conn.info["identity"]), so that
        # services.common.actor can refuse a claimed person on an installation whose people sign in
        # to its server (provenance.allows_claims) without every use-case passing settings along.
        self.identity = identity
        self.is_sqlite = self.url.startswith("sqlite")
        self.path: Path | None = None
        if self.is_sqlite:
            raw = self.url.split(":///", 1)[1] if ":///" in self.url else ""
            if raw.startswith("file:"):  # SQLite's URI form (sqlite:///file:PATH?mode=ro&uri=true)
                raw = raw[len("file:"):].split("?", 1)[0]
            if raw and raw != ":memory:":
                self.path = Path(raw)
                try:
                    self.path.exists()
                except OSError as exc:  # e.g. a name longer than the file system allows
                    raise StorageError(f"The database path {shorten(raw)} cannot be used: {exc.strerror}.") from None
        self._engine: sa.Engine | None = None
        self._seen = False  # the database file is known to exist (checked once, not on every call)
        # SQLite writers of this process take turns on a lock before BEGIN IMMEDIATE. A writer that finds the
        # file locked sleeps in SQLite's busy handler and polls; a commit does not wake it, so 20 threads
        # writing at once (the server) queued badly: benchmarks/web_load.py measured 140 approvals/s and a
        # p99 of 2.0 s, an approval refused after the 5 s busy timeout; with the lock 348/s and 0.2 s.
        # Re-entrant: a write inside a write in one thread must not wait for itself. Other processes still
        # meet the busy timeout; PostgreSQL has row locks and needs none of this.
        self._writers = threading.RLock() if self.is_sqlite else None

    @property
    def where(self) -> str:
        return str(self.path) if self.path else self.url.split("@")[-1]

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            try:
                self._engine = self._create_engine()
            except (exc.ArgumentError, exc.NoSuchModuleError, ImportError):
                raise StorageError(f"'{self.url.split('@')[-1]}' is not a database wijkflow can use: give a SQLite "
                                   "file path, sqlite:///PATH or postgresql+psycopg://...") from None
        return self._engine

    def _create_engine(self) -> sa.Engine:
        if self.path is not None and not self.path.parent.is_dir():
            raise StorageError(f"The database directory {self.path.parent} does not exist.")
        if not self.is_sqlite:
            # Wait for another writer's locks as long as SQLite's busy timeout, then give up (exit 6), never forever.
            return sa.create_engine(self.url, pool_pre_ping=False,
                                    connect_args={"options": f"-c lock_timeout={BUSY_TIMEOUT_MS}"})
        engine = sa.create_engine(self.url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # The driver must not issue its own BEGINs: we issue BEGIN [IMMEDIATE] below.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA foreign_keys=ON")
            try:
                cur.execute("PRAGMA journal_mode=WAL")
            except Exception:  # noqa: BLE001 - a read-only file cannot switch modes; reads still work
                pass
            cur.execute("PRAGMA synchronous=NORMAL")
            # SQLite's default page cache is 2 MB; a step reads the aanpak, its records, roles and
            # the audit indexes at random across the portfolio, so a few thousand aanpakken already
            # fall out of it and every step pays for re-reading pages from the OS. Pages are only
            # allocated as they are read, so a small database uses no more memory than before.
            # Best effort: this pragma reads the schema, and while another process is creating the
            # database (concurrent `wijkflow init`s) that read can fail at once with "busy";
            # the connection then keeps the default cache, which changes nothing but speed.
            try:
                cur.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            except Exception:  # noqa: BLE001
                pass
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: sa.Connection) -> None:
            # Straight to the driver: exec_driver_sql costs ~50 µs of SQLAlchemy on every transaction.
            conn.connection.dbapi_connection.execute(  # type: ignore[union-attr]
                "BEGIN IMMEDIATE" if conn.info.pop("write", False) else "BEGIN")

        return engine

    @contextmanager
    def write(self, conn: sa.Connection | None = None) -> Iterator[sa.Connection]:
        """One use-case, one transaction: everything inside commits together or not at all.

        `conn` reuses a connection from `peek()` (a read just before the write) instead of
        taking a second one from the pool.
        """
        with self._turn():
            if conn is not None:
                with self._errors():
                    conn.info["write"] = True
                    with conn.begin():
                        yield conn
                return
            if not self._exists():
                self.init()  # the first write makes the embedded database; nothing to set up by hand
            with self._errors(), self.engine.connect() as conn:
                conn.info["write"] = True
                conn.info["identity"] = self.identity
                with conn.begin():
                    yield conn

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """This process's SQLite writers one at a time (see __init__), waiting no longer than the busy timeout."""
        if self._writers is None:
            yield
            return
        if not self._writers.acquire(timeout=BUSY_TIMEOUT_MS / 1000):
            raise Conflict("The database is busy with another change; nothing was written, try again.")
        try:
            yield
        finally:
            self._writers.release()

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        with self.peek() as conn:
            conn.info["write"] = False
            with conn.begin():
                yield conn

    @contextmanager
    def peek(self) -> Iterator[sa.Connection]:
        """A connection without a transaction: for one single-statement read through store/fastpath.py
        (SQLAlchemy Core would begin one), then write(conn) on the same pooled connection."""
        if not self._exists():
            raise StorageError(f"There is no database at {self.path} yet; run `wijkflow init` to create it.")
        with self._errors(), self.engine.connect() as conn:
            conn.info["identity"] = self.identity
            yield conn

    def _exists(self) -> bool:
        if self.path is None or self._seen:
            return True
        self._seen = self.path.exists()
        return self._seen

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except exc.OperationalError as err:
            raise self._translate(err) from err
        except exc.ProgrammingError as err:
            raise self._translate(err) from err
        except exc.IntegrityError as err:
            raise Conflict(f"The change conflicts with data already stored ({_first_line(err)}).") from err
        except exc.DBAPIError as err:
            raise self._translate(err) from err  # e.g. DatabaseError "file is not a database"
        except Exception as err:
            # A driver error raised outside SQLAlchemy's wrapping (BEGIN IMMEDIATE is sent directly).
            dbapi = self._engine.dialect.loaded_dbapi if self._engine is not None else None
            if dbapi is not None and isinstance(err, dbapi.Error):
                wrapped = exc.DBAPIError.instance("BEGIN", None, err, dbapi.Error)
                raise self._translate(wrapped) from err
            raise

    def _translate(self, err: exc.StatementError) -> WijkflowError:
        text = str(err.orig).lower()
        if ("locked" in text or "busy" in text or "could not serialize" in text or "deadlock" in text
                or "lock timeout" in text):
            return Conflict("The database is busy with another change; nothing was written, try again.")
        if "readonly" in text or "read-only" in text or "unable to open" in text:
            return StorageError(f"The database at {self.where} cannot be opened for writing "
                                "(read-only file or directory?).")
        if "disk" in text and "full" in text or "disk i/o" in text:
            return StorageError(f"The disk holding {self.where} is full or failing; nothing was written.")
        if "malformed" in text:
            return damaged(self.where, _first_line(err))
        if "file is not a database" in text:
            return StorageError(f"The file at {self.where} is not a wijkflow database (not an SQLite file).")
        if "no such table" in text or "does not exist" in text and "relation" in text:
            return StorageError(f"The database at {self.where} has no wijkflow tables yet; "
                                "run `wijkflow init` first.")
        if "connection" in text or "could not connect" in text:
            return StorageError(f"Cannot reach the database at {self.where}: {_first_line(err)}.")
        return WijkflowError(f"The database reported an error: {_first_line(err)}.")

    # --- the file itself (SQLite) -----------------------------------------------------

    def check_integrity(self) -> None:
        """SQLite's own check of every page and index (PRAGMA integrity_check); StorageError (exit 2)
        when the file is damaged. Nothing to do on PostgreSQL, or when there is no file yet.

        `audit verify` only reads the events in chain order: a file copied while it was being written
        (a plain `cp` of a live database) can pass that and still be damaged elsewhere.
        """
        if not self.is_sqlite or self.path is None or not self.path.exists():
            return
        try:
            with self.read() as conn:
                first = conn.exec_driver_sql("PRAGMA integrity_check").scalars().first()
        except StorageError:
            raise
        except WijkflowError as err:  # e.g. the check itself stopped at a page it could not read
            raise damaged(self.where, err.message) from err
        if first != "ok":
            raise damaged(self.where, str(first))

    def backup(self, target: Path) -> None:
        """A consistent copy of this (live) SQLite database written to the new file `target`.

        The sqlite3 backup API in one step: the pages are copied inside one read transaction, so
        the copy is one snapshot of the database however many processes write to it meanwhile
        (in WAL mode they do not wait for it).
        """
        with self._errors():
            raw = self.engine.raw_connection()
        try:
            try:
                dst = sqlite3.connect(target)
            except sqlite3.Error as err:
                raise StorageError(f"Cannot write the backup at {target}: {err}.") from None
            try:
                raw.driver_connection.backup(dst)  # type: ignore[union-attr]
            except sqlite3.Error as err:
                raise StorageError(f"The backup to {target} failed: {err}; nothing was kept.") from None
            finally:
                dst.close()
        finally:
            raw.close()

    # --- schema ---------------------------------------------------------------------

    def is_initialised(self) -> bool:
        if self.path is not None and not self.path.exists():
            return False
        with self.read() as conn:
            return sa.inspect(conn).has_table("audit_event")

    def init(self) -> bool:
        """Create the schema, or bring it up to the newest revision; True if it was created."""
        return self.upgrade()[0] is None

    def upgrade(self, target: str = "head") -> tuple[str | None, str]:
        """Run the migrations up to `target` in one transaction: (revision before, revision after).

        Before is None for a database without wijkflow tables (it is created); a database made
        before wijkflow had migrations is recognised as the first revision and stamped.
        """
        migrations.load()  # before the lock, not while holding it
        if self.path is not None and self.path.exists() and not os.access(self.path, os.W_OK):
            raise StorageError(f"The database at {self.where} is read-only.")
        self.check_integrity()  # never build on a damaged file
        with self._errors(), self.engine.connect() as conn:
            conn.info["write"] = True
            with conn.begin():
                if not self.is_sqlite:
                    # Two nodes running `init` at once: the second waits, then finds nothing to do.
                    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(4243)")
                return migrations.upgrade(conn, target, create=self._create_schema)

    def _create_schema(self, conn: sa.Connection) -> None:
        """A new database at the newest revision: the models' tables and the triggers, in one go.

        Alembic's own recipe for a fresh database (create, then stamp head); a test holds the
        result equal to running every migration from the first.
        """
        models.METADATA.create_all(conn)
        for ddl in _SQLITE_TRIGGERS if self.is_sqlite else _POSTGRES_TRIGGERS:
            conn.exec_driver_sql(ddl)
        if self.is_sqlite:
            conn.exec_driver_sql(f"PRAGMA user_version={models.SCHEMA_VERSION}")

    def revision(self) -> str | None:
        """The schema revision of this database (None: no wijkflow tables yet)."""
        if self.path is not None and not self.path.exists():
            return None
        with self.read() as conn:
            return migrations.current(conn)

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def single_file(path: Path) -> None:
    """Switch the (closed) SQLite database at `path` to a rollback journal: the whole database in one
    file, with no -wal or -shm beside it, as a backup should be."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error as err:
        raise StorageError(f"Cannot finish the file at {path}: {err}.") from None
    finally:
        conn.close()


def damaged(where: str, finding: str) -> StorageError:
    return StorageError(f"The database file at {where} is damaged (SQLite's integrity check: {shorten(finding)}); "
                        "nothing was written: restore it from a backup (`wijkflow db backup`).")


def _first_line(err: BaseException) -> str:
    orig = getattr(err, "orig", None) or err
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
