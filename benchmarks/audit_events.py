"""Fill a database with N hash-chained audit events, to measure `audit verify` / `audit query` at scale.

    python benchmarks/audit_events.py /tmp/big.db 1000000
    /usr/bin/time -v wijkflow --db /tmp/big.db audit verify
    /usr/bin/time -v wijkflow --db /tmp/big.db audit query --format csv > /dev/null

The events are real ones (criterion completions spread over 20 aanpakken), chained and given
their Merkle leaf with wijkflow's own functions, so `audit verify` has exactly the work it has in production
(each with an origin, as every event written since schema revision 0008 has).
"""

from __future__ import annotations

import json
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from wijkflow import audit, services
from wijkflow.app import App
from wijkflow.audit_format import event_leaf

KEYS = ("coalitie", "analyse_visie", "lokaal_contract", "instrumenten_financiering")
ORIGIN = '{"host":"werkplek-12","os_user":"bench","via":"cli"}'


def main(path: str, n: int) -> None:
    db = Path(path)
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    start = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    app = App.open(f"sqlite:///{db}", clock=lambda: start)
    app.db.init()
    services.add_person(app, "admin@bench.example", name="Bench Admin", role="admin")
    services.add_person(app, "pl@bench.example", name="Bench Leider", acting="admin@bench.example")
    for i in range(20):
        services.create_aanpak(app, f"Wijkaanpak {i}", wijk=f"Wijk {i % 7}", gemeente="Bench",
                               leader="pl@bench.example", acting="pl@bench.example")
    app.close()
    conn = sqlite3.connect(db)
    last_id, prev = conn.execute("SELECT id, hash FROM audit_event ORDER BY id DESC LIMIT 1").fetchone()
    conn.execute("BEGIN")
    batch = []
    for i in range(last_id + 1, n + 1):
        at = start + timedelta(seconds=30 * i)
        key = KEYS[i % 4]
        event = {"id": i, "at": at, "aanpak_id": 1 + i % 20, "type": "criterion_completed", "actor_id": 2,
                 "from_phase": "initiate", "to_phase": None, "reason": None, "evidence": f"doc-{i}.pdf",
                 "payload": json.dumps({"criterion": key, "label": key, "visit": 1}, sort_keys=True,
                                       separators=(",", ":")), "origin": ORIGIN}
        h = audit.chain_hash(prev, event)
        batch.append((i, at.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds"), event["aanpak_id"],
                      event["type"], 2, "initiate", None, None, event["evidence"], event["payload"], prev, h,
                      event_leaf(event).hex(), ORIGIN))
        prev = h
        if len(batch) == 50_000:
            conn.executemany("INSERT INTO audit_event VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,NULL,?)", batch)
            batch.clear()
    conn.executemany("INSERT INTO audit_event VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,NULL,?)", batch)
    conn.execute("COMMIT")
    conn.close()
    print(f"{db}: {n} events, head {prev}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
