"""Audit benchmark: `audit query --aanpak X` and a full CSV export over 1,000,000 events.

The database is filled by benchmarks/audit_events.py (real hash-chained events over 20
aanpakken, so one aanpak has 50,000). Both sides run as processes from the same interpreter:

  query   `wijkflow audit query --aanpak 7 --format csv`  vs  the same SELECT by hand with sqlite3
          (or psycopg), rows written with csv.writer.                 Target: <= 2x the baseline.
  export  `wijkflow audit query --format csv` (everything)  vs  the same SELECT by hand.
          Targets: <= 2x the baseline's time and peak memory < 200 MB.

Peak memory is the child's own maximum resident set (os.wait4). Medians of several runs.

    python benchmarks/audit.py [--events 1000000] [--runs 3] [--db FILE (reuse a filled database)]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WIJKFLOW = str(Path(sys.executable).with_name("wijkflow"))
AANPAK = 7

# The SELECT wijkflow's audit query runs (store.query_events), written by hand.
BY_HAND = r'''
import csv, sys, sqlite3
conn = sqlite3.connect(sys.argv[1])
sql = ("SELECT e.id, e.at, e.aanpak_id, e.type, e.actor_id, e.from_phase, e.to_phase, e.reason, e.evidence, "
       "e.payload, e.prev_hash, e.hash, a.slug, a.name, a.wijk, a.gemeente "
       "FROM audit_event e LEFT OUTER JOIN aanpak a ON a.id = e.aanpak_id")
args = ()
if len(sys.argv) > 2:
    sql += " WHERE e.aanpak_id = ?"
    args = (int(sys.argv[2]),)
w = csv.writer(sys.stdout, lineterminator="\n")
w.writerow(["id", "at", "aanpak_id", "type", "actor_id", "from_phase", "to_phase", "reason", "evidence",
            "payload", "prev_hash", "hash", "slug", "name", "wijk", "gemeente"])
cur = conn.execute(sql + " ORDER BY e.id", args)
while True:
    rows = cur.fetchmany(5000)
    if not rows:
        break
    w.writerows(rows)
'''


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(seconds, peak MB of the child, CSV lines written) for one run, output counted and discarded."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines = 0
    assert proc.stdout is not None
    while chunk := proc.stdout.read(1 << 20):
        lines += chunk.count(b"\n")
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} failed: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
    return elapsed, usage.ru_maxrss / 1024, lines


def in_process_wijkflow(db: Path) -> float:
    import io

    from wijkflow.app import App
    from wijkflow.services.audit_export import csv_chunks

    app = App.open(str(db))
    try:
        t0 = time.perf_counter()
        out = io.StringIO()
        for _, text in csv_chunks(app, aanpak=str(AANPAK)):
            out.write(text)
        return time.perf_counter() - t0
    finally:
        app.close()


def in_process_by_hand(db: Path) -> float:
    t0 = time.perf_counter()
    code = BY_HAND.replace("sys.stdout", "io.StringIO()").replace("import csv, sys, sqlite3", "import csv, io, sqlite3")
    exec(compile(code, "by_hand", "exec"), {"sys": type("S", (), {"argv": ["", str(db), str(AANPAK)]})})
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--db", default=None, help="a database filled by audit_events.py (kept); else a temporary one")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(args.db) if args.db else Path(tmp) / "audit.db"
        if not db.exists():
            t0 = time.perf_counter()
            subprocess.run([sys.executable, str(HERE / "audit_events.py"), str(db), str(args.events)], check=True,
                           stdout=subprocess.DEVNULL)
            print(f"filled {db} with {args.events} events in {time.perf_counter() - t0:.0f} s", flush=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("WIJKFLOW_")}
        env.update({"WIJKFLOW_DATABASE_URL": str(db), "WIJKFLOW_USER": "admin@bench.example", "WIJKFLOW_CONFIG": ""})
        cases = [
            ("query --aanpak", [WIJKFLOW, "audit", "query", "--aanpak", str(AANPAK), "--format", "csv"],
             [sys.executable, "-c", BY_HAND, str(db), str(AANPAK)]),
            ("export (all)", [WIJKFLOW, "audit", "query", "--format", "csv"],
             [sys.executable, "-c", BY_HAND, str(db)]),
        ]
        print(f"audit benchmark: {args.events} events in SQLite, median of {args.runs} interleaved runs")
        print(f"{'case':<16}{'rows':>9}{'wijkflow s':>12}{'events/s':>10}{'peak MB':>9}"
              f"{'by hand s':>11}{'events/s':>10}{'peak MB':>9}{'ratio':>8}")
        results = {}
        for name, ours_cmd, base_cmd in cases:
            ours, base = [], []
            for _ in range(args.runs):
                ours.append(timed(ours_cmd, env))
                base.append(timed(base_cmd, env))
            o_s, b_s = statistics.median(r[0] for r in ours), statistics.median(r[0] for r in base)
            o_mb, b_mb = max(r[1] for r in ours), max(r[1] for r in base)
            rows = ours[0][2] - 1
            assert rows == base[0][2] - 1, (rows, base[0][2] - 1)
            results[name] = (rows, o_s, o_mb, b_s)
            print(f"{name:<16}{rows:>9}{o_s:>12.2f}{rows / o_s:>10.0f}{o_mb:>9.0f}{b_s:>11.2f}{rows / b_s:>10.0f}"
                  f"{b_mb:>9.0f}{o_s / b_s:>7.2f}x", flush=True)
        # In-process, both warm: the query's own cost without the interpreter's start-up.
        ours_in, base_in = [], []
        for _ in range(args.runs):
            ours_in.append(in_process_wijkflow(db))
            base_in.append(in_process_by_hand(db))
        o_in, b_in = statistics.median(ours_in), statistics.median(base_in)
        rows = results["query --aanpak"][0]
        print(f"{'query in-proc.':<16}{rows:>9}{o_in:>12.2f}{rows / o_in:>10.0f}{'':>9}{b_in:>11.2f}"
              f"{rows / b_in:>10.0f}{'':>9}{o_in / b_in:>7.2f}x   (no interpreter start-up on either side)")
        rows, o_s, _, b_s = results["query --aanpak"]
        print(f"query: {o_s / b_s:.2f}x the hand-written SQL (target <= 2x): {'met' if o_s / b_s <= 2 else 'MISSED'}")
        rows, o_s, o_mb, b_s = results["export (all)"]
        print(f"export: {o_s / b_s:.2f}x the hand-written SQL (target <= 2x): {'met' if o_s / b_s <= 2 else 'MISSED'}; "
              f"{rows / o_s:,.0f} events/s; peak {o_mb:.0f} MB (target < 200 MB): {'met' if o_mb < 200 else 'MISSED'}")


if __name__ == "__main__":
    main()
