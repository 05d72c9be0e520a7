"""Verification and queries stream: ten times the events must not take ten times the memory.

(The 1,000,000-event numbers in README come from benchmarks/audit_events.py.)
"""

from __future__ import annotations

import json
import sqlite3
import tracemalloc
from datetime import timedelta

import pytest

from wijkflow import audit
from wijkflow.audit_format import event_leaf
from wijkflow.services.audit import query, verify

# These tests read and alter the SQLite file itself (tampering, bytes on disk): SQLite only.
pytestmark = pytest.mark.sqlite_only


def add_events(db_path, n: int, start) -> None:
    """Append n correctly chained events straight into the table, as a long-running database would have."""
    conn = sqlite3.connect(db_path)
    last_id, prev = conn.execute("SELECT id, hash FROM audit_event ORDER BY id DESC LIMIT 1").fetchone()
    rows = []
    for i in range(last_id + 1, last_id + n + 1):
        at = start + timedelta(minutes=i)
        e = {"id": i, "at": at, "aanpak_id": 1, "type": "criterion_completed", "actor_id": 3,
             "from_phase": "initiate", "to_phase": None, "reason": None, "evidence": f"bijlage-{i}.pdf",
             "payload": json.dumps({"criterion": "coalitie", "visit": 1}, separators=(",", ":"))}
        h = audit.chain_hash(prev, e)
        rows.append((i, at.strftime("%Y-%m-%d %H:%M:%S.%f"), 1, e["type"], 3, "initiate", None, None,
                     e["evidence"], e["payload"], prev, h, event_leaf(e).hex()))
        prev = h
    with conn:
        conn.executemany("INSERT INTO audit_event VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,NULL,NULL)", rows)
    conn.close()


def peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_verify_and_query_memory_does_not_grow_with_the_history(app, aanpak, db_path, clock):
    def work() -> None:
        assert verify(app)["checked"] > 0
        for _ in query(app, aanpak=aanpak):
            pass

    add_events(db_path, 1_000, clock.now)
    small = peak(work)
    add_events(db_path, 9_000, clock.now)
    large = peak(work)
    assert verify(app)["checked"] == 10_011
    assert large < small * 2, f"peak memory grew from {small} to {large} bytes for 10x the events"
