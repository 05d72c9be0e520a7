"""The audit chain: appending events, reading them back, and the auditors' queries over them."""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from .. import provenance
from ..audit import GENESIS, chain_hash
from ..audit_format import event_leaf, origin_text
from ..errors import NotAllowed
from ..models import AANPAK, AUDIT_LOG, CHECKPOINT, EVENT
from . import fastpath
from .common import Row, place_filters, streamed


def append_event(conn: sa.Connection, *, at: datetime, type: str, aanpak_id: int | None = None,
                 actor_id: int | None = None, from_phase: str | None = None, to_phase: str | None = None,
                 reason: str | None = None, evidence: str | None = None,
                 payload: dict[str, Any] | None = None) -> int:
    """Append one event to the chain, with where it comes from (provenance.current()). The caller's write
    transaction serialises appends."""
    if actor_id is not None and not provenance.allows_claims(conn.info.get("identity")):
        # Backstop for a use-case that names a person without services.common.actor(), which refuses first.
        raise NotAllowed(provenance.SERVER_IDENTITY)
    if conn.dialect.name == "postgresql":
        # One chain per database: appends must not interleave between reading the head and inserting.
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(4242)")
    last = fastpath.chain_end(conn)  # every step appends: see fastpath.py
    event: dict[str, Any] = {
        "id": last[0] + 1 if last else 1,
        "at": at,
        "aanpak_id": aanpak_id,
        "type": type,
        "actor_id": actor_id,
        "from_phase": from_phase,
        "to_phase": to_phase,
        "reason": reason,
        "evidence": evidence,
        "payload": json.dumps(payload or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
        "origin": origin_text(provenance.current()),
    }
    prev = last[1] if last else GENESIS
    fastpath.insert_event(conn, {**event, "prev_hash": prev, "hash": chain_hash(prev, event),
                                 "leaf": event_leaf(event).hex(), "erased": None})
    return int(event["id"])


def events(conn: sa.Connection, aanpak_id: int | None = None) -> Iterator[Row]:
    """The events (of one aanpak, or all), oldest first, fetched in batches."""
    query = sa.select(EVENT).order_by(EVENT.c.id)
    yield from streamed(conn, query if aanpak_id is None else query.where(EVENT.c.aanpak_id == aanpak_id))


def stream_chain(conn: sa.Connection) -> Iterator[Row]:
    """Every event in chain order, fetched in batches (a server-side cursor on PostgreSQL)."""
    return events(conn)


# What `audit verify` reads per event: every column as the database holds it (`at` as SQLite's text), so
# that a value of the wrong type or a re-written time is seen rather than converted.
VERIFY_COLUMNS = (EVENT.c.id, sa.type_coerce(EVENT.c.at, sa.String).label("at"), EVENT.c.aanpak_id, EVENT.c.type,
                  EVENT.c.actor_id, EVENT.c.from_phase, EVENT.c.to_phase, EVENT.c.reason, EVENT.c.evidence,
                  EVENT.c.payload, EVENT.c.prev_hash, EVENT.c.hash, EVENT.c.leaf, EVENT.c.erased, EVENT.c.origin)


def stream_stored(conn: sa.Connection, *, upto: int | None = None, after: int = 0) -> Generator[Row, None, None]:
    """VERIFY_COLUMNS of every event (ids after `after`, up to `upto`), in id order, in batches."""
    query = sa.select(*VERIFY_COLUMNS).where(EVENT.c.id > after).order_by(EVENT.c.id)
    if upto is not None:
        query = query.where(EVENT.c.id <= upto)
    raw = conn.connection.dbapi_connection if conn.dialect.name == "sqlite" else None
    before = getattr(raw, "text_factory", str)
    if raw is not None:
        # Text that is not UTF-8 (written by hand) arrives with its bad bytes as surrogates, for verify to name
        # the event, instead of failing the fetch.
        raw.text_factory = _lenient_text
    try:
        yield from streamed(conn, query)
    finally:
        if raw is not None:
            raw.text_factory = before


def _lenient_text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def stream_leaves(conn: sa.Connection, size: int) -> Iterator[str]:
    """The stored leaf hashes (hex) of the first `size` events, in order."""
    # yield_per on the statement, not the connection (that would stay set and make a later INSERT in the same
    # transaction run on a server-side cursor on PostgreSQL).
    query = sa.select(EVENT.c.leaf).where(EVENT.c.id <= size).order_by(EVENT.c.id).execution_options(yield_per=20_000)
    with conn.execute(query) as result:
        for partition in result.partitions():
            for (leaf,) in partition:
                yield leaf


def event_by_id(conn: sa.Connection, event_id: int) -> Row | None:
    return conn.execute(sa.select(*VERIFY_COLUMNS).where(EVENT.c.id == event_id)).first()


def events_until(conn: sa.Connection, aanpak_id: int, until: datetime) -> list[Row]:
    return list(conn.execute(sa.select(EVENT).where(EVENT.c.aanpak_id == aanpak_id, EVENT.c.at < until)
                             .order_by(EVENT.c.id)))


def count_events(conn: sa.Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(EVENT)).scalar_one())


def event_id_by_hash(conn: sa.Connection, hash_: str) -> int | None:
    """Which event carries this hash (a full scan: only used to explain a broken chain)."""
    return conn.execute(sa.select(EVENT.c.id).where(EVENT.c.hash == hash_).limit(1)).scalar()


def chain_head(conn: sa.Connection) -> Row | None:
    return conn.execute(sa.select(EVENT.c.id, EVENT.c.at, EVENT.c.hash).order_by(EVENT.c.id.desc()).limit(1)).first()


def event_types(conn: sa.Connection) -> set[str]:
    return set(conn.execute(sa.select(EVENT.c.type).distinct()).scalars())


def phase_events(conn: sa.Connection, aanpak_ids: list[int] | None = None) -> Iterator[Row]:
    """Creation and phase changes, grouped by aanpak in time order: the input of phase statistics."""
    query = (sa.select(EVENT.c.id, EVENT.c.aanpak_id, EVENT.c.at, EVENT.c.type, EVENT.c.from_phase,
                       EVENT.c.to_phase, EVENT.c.payload)
             .where(EVENT.c.type.in_(("aanpak_created", "phase_changed")), EVENT.c.aanpak_id.is_not(None)))
    if aanpak_ids is not None:
        query = query.where(EVENT.c.aanpak_id.in_(aanpak_ids))
    yield from streamed(conn, query.order_by(EVENT.c.aanpak_id, EVENT.c.id))


# --- `audit query`: one set of filters for every output format ------------------------------

_WITH_AANPAK = EVENT.outerjoin(AANPAK, AANPAK.c.id == EVENT.c.aanpak_id)


def _filtered(query: sa.Select[Any], *, aanpak_id: int | None = None, wijk: str | None = None,
              gemeente: str | None = None, phase: str | None = None, actor_id: int | None = None,
              types: tuple[str, ...] = (), since: datetime | None = None,
              until: datetime | None = None) -> sa.Select[Any]:
    """The events matching every filter given (`query` selects from events outer-joined to aanpak)."""
    where = place_filters(wijk=wijk, gemeente=gemeente)
    if aanpak_id is not None:
        where.append(EVENT.c.aanpak_id == aanpak_id)
    if phase:
        where.append(sa.or_(EVENT.c.from_phase == phase, EVENT.c.to_phase == phase))
    if actor_id is not None:
        where.append(EVENT.c.actor_id == actor_id)
    if types:
        where.append(EVENT.c.type.in_(types))
    if since is not None:
        where.append(EVENT.c.at >= since)
    if until is not None:
        where.append(EVENT.c.at < until)
    return query.select_from(_WITH_AANPAK).where(*where)


def query_events(conn: sa.Connection, **filters: Any) -> Iterator[Row]:
    """Events matching every filter given (see _filtered), with their aanpak, in chain order, in batches."""
    query = sa.select(EVENT, AANPAK.c.slug.label("aanpak_slug"), AANPAK.c.name.label("aanpak_name"),
                      AANPAK.c.wijk.label("aanpak_wijk"), AANPAK.c.gemeente.label("aanpak_gemeente"))
    yield from streamed(conn, _filtered(query, **filters).order_by(EVENT.c.id))


# What the CSV export reads per event, in this order. `at` as the database hands it over (SQLite: its
# text), for services/audit_export.py to turn into local time without a datetime per event.
EXPORT_COLUMNS = (EVENT.c.id, sa.type_coerce(EVENT.c.at, sa.String).label("at"), EVENT.c.type, EVENT.c.actor_id,
                  EVENT.c.from_phase, EVENT.c.to_phase, EVENT.c.reason, EVENT.c.evidence, EVENT.c.payload,
                  EVENT.c.prev_hash, EVENT.c.hash, AANPAK.c.slug, AANPAK.c.wijk, AANPAK.c.gemeente, EVENT.c.aanpak_id,
                  EVENT.c.leaf, EVENT.c.origin)


def export_batches(conn: sa.Connection, batch: int = 10_000, **filters: Any) -> Iterator[Sequence[Row]]:
    """query_events' events as EXPORT_COLUMNS, `batch` rows at a time (for a CSV writer's writerows)."""
    query = _filtered(sa.select(*EXPORT_COLUMNS), **filters).order_by(EVENT.c.id)
    with conn.execution_options(yield_per=batch).execute(query) as result:
        yield from result.partitions()


def count_matching(conn: sa.Connection, **filters: Any) -> int:
    """How many events query_events gives for these filters."""
    return int(conn.execute(_filtered(sa.select(sa.func.count()), **filters)).scalar_one())


# --- the log's identity and its signed checkpoints -------------------------------------------------------

def audit_log(conn: sa.Connection) -> Row | None:
    return conn.execute(sa.select(AUDIT_LOG).order_by(AUDIT_LOG.c.id).limit(1)).first()


def insert_audit_log(conn: sa.Connection, *, origin: str, public_key: str | None, at: datetime) -> None:
    conn.execute(AUDIT_LOG.insert().values(id=1, origin=origin, public_key=public_key, created_at=at))


def set_log_key(conn: sa.Connection, public_key: str) -> None:
    conn.execute(AUDIT_LOG.update().where(AUDIT_LOG.c.id == 1).values(public_key=public_key))


def insert_checkpoint(conn: sa.Connection, *, size: int, root: str, at: datetime, note: str) -> int:
    return int(conn.execute(CHECKPOINT.insert().values(size=size, root=root, at=at, note=note))
               .inserted_primary_key[0])  # type: ignore[index]


def lock_checkpoints(conn: sa.Connection) -> None:
    """Serialise 'is a checkpoint due?' between schedulers (SQLite's write transaction does so already)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(4244)")


def latest_checkpoint(conn: sa.Connection) -> Row | None:
    return conn.execute(sa.select(CHECKPOINT).order_by(CHECKPOINT.c.id.desc()).limit(1)).first()


def checkpoints(conn: sa.Connection) -> list[Row]:
    return list(conn.execute(sa.select(CHECKPOINT).order_by(CHECKPOINT.c.id)))


# --- retention: erasing content, keeping what the leaves commit to -----------------------------------------

def events_with_content_before(conn: sa.Connection, before: datetime) -> list[Row]:
    """Events before `before` that still hold content (reason, evidence, a payload or an origin)."""
    return list(conn.execute(sa.select(EVENT.c.id, EVENT.c.reason, EVENT.c.evidence, EVENT.c.payload,
                                       EVENT.c.origin).where(
        EVENT.c.at < before, EVENT.c.erased.is_(None),
        sa.or_(EVENT.c.reason.is_not(None), EVENT.c.evidence.is_not(None), EVENT.c.payload != "{}",
               EVENT.c.origin.is_not(None)))
        .order_by(EVENT.c.id)))


def erase_content(conn: sa.Connection, erased: list[dict[str, Any]]) -> None:
    """Empty reason, evidence, payload and origin of these events ({"id", "erased"}), keeping their digests."""
    if erased:
        conn.execute(EVENT.update().where(EVENT.c.id == sa.bindparam("event_id"))
                     .values(reason=None, evidence=None, payload="{}", origin=None,
                             erased=sa.bindparam("digests")),
                     [{"event_id": e["id"], "digests": e["erased"]} for e in erased])
