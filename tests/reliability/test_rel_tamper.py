"""7. Tampering: random edits to a copy of a real history, each caught by `audit verify` and named.

Every tamper goes past the append-only triggers, as someone with the file could: a field edited,
an edit with the hash recomputed, an event deleted, two swapped, one cut from the end (caught only
with the kept head). Each must end in exit 7 (or, cut from the end, in the kept-head refusal).
"""

from __future__ import annotations

import random
import shutil
import sqlite3

import pytest
import scenarios

from wijkflow import audit
from wijkflow.app import App
from wijkflow.errors import AuditFailed
from wijkflow.services import audit as audit_service

TAMPERS = scenarios.scaled(60)
KINDS = ("edit", "rehash", "delete", "swap", "cut")


def tamper(path: str, kind: str, rng: random.Random, last: int) -> int:
    """Apply one tamper of `kind` to the SQLite file; returns the first event it touched."""
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER audit_event_append_only_update")
    conn.execute("DROP TRIGGER audit_event_append_only_delete")
    victim = rng.randrange(1, last) if kind != "cut" else last
    if kind == "edit":
        conn.execute("UPDATE audit_event SET reason = coalesce(reason, '') || 'x' WHERE id = ?", (victim,))
    elif kind == "rehash":  # the content and its own hash changed together: the next link breaks
        row = conn.execute(f"SELECT prev_hash, {', '.join(audit._CHAINED)} FROM audit_event WHERE id = ?",
                           (victim,)).fetchone()
        event = dict(zip(audit._CHAINED, row[1:], strict=True))
        event["reason"] = "herschreven"
        forged = audit.chain_hash(row[0], {**event, "at": scenarios._moment(event["at"])})
        conn.execute("UPDATE audit_event SET reason = 'herschreven', hash = ? WHERE id = ?", (forged, victim))
    elif kind == "delete":
        conn.execute("DELETE FROM audit_event WHERE id = ?", (victim,))
    elif kind == "swap":  # two neighbours change places, each with its own content and hashes
        cols = [c for c in (*audit._CHAINED, "prev_hash", "hash") if c != "id"]
        a, b = conn.execute(f"SELECT {', '.join(cols)} FROM audit_event WHERE id IN (?, ?) ORDER BY id",
                            (victim, victim + 1)).fetchall()
        assign = ", ".join(f"{c} = ?" for c in cols)
        conn.execute(f"UPDATE audit_event SET {assign} WHERE id = ?", (*b, victim))
        conn.execute(f"UPDATE audit_event SET {assign} WHERE id = ?", (*a, victim + 1))
    else:
        conn.execute("DELETE FROM audit_event WHERE id = ?", (victim,))
    conn.commit()
    conn.close()
    return victim


@pytest.mark.sqlite_only
def test_every_tamper_is_detected_and_named(db_url, tmp_path):
    scenarios.seed(db_url, aanpakken=2)
    app = App.open(db_url)
    try:
        kept = audit_service.head(app)
    finally:
        app.close()
    last = kept["id"]
    rng = random.Random(15)
    detected, named = 0, 0
    for i in range(TAMPERS):
        kind = KINDS[i % len(KINDS)]
        copy = str(tmp_path / f"t{i}.db")
        shutil.copyfile(db_url, copy)
        first = tamper(copy, kind, rng, last)
        victim = App.open(copy)
        try:
            with pytest.raises(AuditFailed) as caught:
                audit_service.verify(victim, expect_head=kept["hash"] if kind == "cut" else None)
        finally:
            victim.close()
        detected += 1
        named += f"#{first}" in str(caught.value) or kind == "cut" and "does not occur" in str(caught.value)
    assert detected == named == TAMPERS
    scenarios.record("tamper", db_url, tampers=TAMPERS, detected=detected, named=named)
