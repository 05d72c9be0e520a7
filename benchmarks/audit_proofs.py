"""Checkpoint, prove and verify on a large log, each beside a plain hashlib pass over the same bytes.

    python benchmarks/audit_proofs.py /tmp/big.db 1000000      # fills the file first (audit_events.py)
    python benchmarks/audit_proofs.py /tmp/big.db 1000000 --reuse

The baselines are the least any implementation must do: for checkpoint and prove, read every stored
leaf hash and hash the n - 1 tree nodes with hashlib; for verify, read every event's columns and
SHA-256 them once. Peak memory of verify is measured with tracemalloc on a second run.
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from audit_events import main as fill

from wijkflow.app import App
from wijkflow.services.audit import verify
from wijkflow.services.audit_log import make_checkpoint, prove_consistency, prove_inclusion


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def leaves_baseline(db: Path) -> None:
    """Read the leaf column and hash n - 1 nodes of 65 bytes: the floor for a root or a proof."""
    conn = sqlite3.connect(db)
    prev = b""
    sha = hashlib.sha256
    for (leaf,) in conn.execute("SELECT leaf FROM audit_event ORDER BY id"):
        prev = sha(b"\x01" + prev[:32] + bytes.fromhex(leaf)).digest()
    conn.close()


def events_baseline(db: Path) -> None:
    """Read every event's columns and SHA-256 their bytes once: the floor for verify."""
    conn = sqlite3.connect(db)
    sha = hashlib.sha256
    for row in conn.execute("SELECT id, at, aanpak_id, type, actor_id, from_phase, to_phase, reason, evidence, "
                            "payload, prev_hash, hash, leaf FROM audit_event ORDER BY id"):
        sha("\x1f".join(map(str, row)).encode()).digest()
    conn.close()


def main(path: str, n: int, reuse: bool) -> None:
    db = Path(path)
    if not reuse or not db.exists():
        seconds, _ = timed(lambda: fill(path, n))
        print(f"filled {n:,} events in {seconds:.1f} s")
    key = Path(tempfile.mkdtemp()) / "bench-key.pem"
    app = App.open(f"sqlite:///{db}", audit_key_file=str(key))
    rows = []
    base_leaves, _ = timed(lambda: leaves_baseline(db))
    base_events, _ = timed(lambda: events_baseline(db))
    t_cp, cp = timed(lambda: make_checkpoint(app))
    rows.append(("audit checkpoint", t_cp, "hashlib over the stored leaves", base_leaves))
    t_prove, _ = timed(lambda: prove_inclusion(app, n // 2))
    rows.append(("audit prove EVENT", t_prove, "hashlib over the stored leaves", base_leaves))
    with app.db.write() as conn:  # one more event, so that the consistency proof has something to span
        from wijkflow import store
        store.append_event(conn, at=app.now(), type="note", reason="benchmark")
    make_checkpoint(app)
    t_cons, _ = timed(lambda: prove_consistency(app, cp["note"]))
    rows.append(("audit prove --from OLD", t_cons, "hashlib over the stored leaves", base_leaves))
    t_verify, v = timed(lambda: verify(app))
    rows.append(("audit verify", t_verify, "hashlib over every event's columns", base_events))
    tracemalloc.start()
    verify(app)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    app.close()
    print(f"{v['checked']:,} events, root {v['root'][:16]}...")
    print(f"{'operation':<24} {'seconds':>8}   {'baseline':<36} {'seconds':>8}  ratio")
    for name, t, base_name, base in rows:
        print(f"{name:<24} {t:>8.2f}   {base_name:<36} {base:>8.2f}  {t / base:5.1f}x")
    print(f"verify peak Python memory (tracemalloc): {peak / 1e6:.1f} MB")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), "--reuse" in sys.argv[3:])
