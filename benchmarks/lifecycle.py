"""Lifecycle benchmark: N aanpakken through initiate -> ... -> closed with one bijsturen loop.

wijkflow does the work through its Python API (services.advance: gate evaluated, machine fired,
version-checked update, hash-chained event with the frozen gate), one transaction per step.
Baselines in the same run: the peers in shared/bench/peers/ (hand-written sqlite3, the floor;
SpiffWorkflow 3.2.0, a peer engine), run on the same machine right after.

    python benchmarks/lifecycle.py [-n 5000] [--no-peers]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from wijkflow import services
from wijkflow.app import App

HERE = Path(__file__).resolve().parent
PEERS = Path(os.environ.get("WIJKFLOW_PEERS", HERE.parent.parent / "shared" / "bench" / "peers"))
PL = "pl@bench.example"
# (from, to) per step, as in the peers' EXPECTED list
ROUTE = [("initiate", None), ("design", None), ("execute", None), ("monitor", "execute"),
         ("execute", None), ("monitor", "evaluate"), ("evaluate", None)]


def run_wijkflow(n: int, workdir: Path) -> tuple[float, float]:
    now = [datetime(2026, 1, 5, tzinfo=UTC)]
    app = App.open(f"sqlite:///{workdir / 'wijkflow.db'}", clock=lambda: now[0])
    app.db.init()
    services.add_person(app, PL, name="Bench")
    definition = str(HERE / "lifecycle.yaml")
    t0 = time.perf_counter()
    for i in range(1, n + 1):
        services.create_aanpak(app, f"wijkaanpak-{i}", wijk=f"wijk-{i}", leader=PL, workflow=definition, acting=PL)
        for key in ("crit_budget", "crit_draagvlak", "crit_capaciteit"):
            services.complete(app, str(i), key, acting=PL)
    create_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _phase, to in ROUTE:
        now[0] += timedelta(minutes=1)
        for i in range(1, n + 1):
            services.advance(app, str(i), acting=PL, to=to)
    lifecycle_s = time.perf_counter() - t0
    with app.db.read() as conn:
        phases = conn.execute(sa.text("SELECT phase, count(*) FROM aanpak GROUP BY phase")).all()
        changes = conn.execute(sa.text("SELECT count(*) FROM audit_event WHERE type='phase_changed'")).scalar()
    assert dict(phases) == {"closed": n}, phases
    assert changes == n * len(ROUTE), changes
    app.close()
    return lifecycle_s, create_s


def run_peers(n: int) -> dict[str, float]:
    script = PEERS / "run_peers.sh"
    if not script.exists():
        print(f"# peers not found at {PEERS}", file=sys.stderr)
        return {}
    r = subprocess.run(["bash", str(script), str(n)], capture_output=True, text=True,
                       env={**os.environ, "PY": sys.executable})
    out = {}
    for line in r.stdout.splitlines():
        system, _steps_per_s, us_per_step, _create = line.split()
        out[system] = float(us_per_step)
    if r.returncode != 0:
        print(r.stderr[-2000:], file=sys.stderr)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=5000, help="number of aanpakken (default 5000)")
    ap.add_argument("--no-peers", action="store_true", help="skip the sqlite3 / SpiffWorkflow baselines")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lifecycle_s, create_s = run_wijkflow(args.n, Path(tmp))
    steps = args.n * len(ROUTE)
    ours = 1e6 * lifecycle_s / steps
    rows = [("wijkflow", ours)]
    if not args.no_peers:
        rows += sorted(run_peers(args.n).items())
    floor = dict(rows).get("raw_sqlite")
    print(f"lifecycle benchmark: N={args.n}, {steps} steps, one transaction per step "
          f"(wijkflow setup {create_s:.1f} s, not timed)")
    print(f"{'system':<16}{'us/step':>10}{'steps/s':>10}{'vs wijkflow':>14}")
    for system, us in rows:
        print(f"{system:<16}{us:>10.1f}{1e6 / us:>10.0f}{us / ours:>13.2f}x")
    if floor:
        spiff = dict(rows).get("spiffworkflow")
        print(f"wijkflow / sqlite3 floor: {ours / floor:.1f}x (target <= 10x)")
        if spiff:
            print(f"SpiffWorkflow / wijkflow: {spiff / ours:.1f}x (target >= 5x)")


if __name__ == "__main__":
    main()
