"""The reliability scenarios of tests/reliability/, run longer, on demand.

    python benchmarks/soak.py                                   # SQLite, a few minutes
    python benchmarks/soak.py --postgres postgresql+psycopg://postgres:pw@127.0.0.1/postgres
    python benchmarks/soak.py --commands 2000 --kills 500 --fuzz 5000 --smtp-rounds 10

Each scenario gets a fresh database (a SQLite file in a temporary folder, or a fresh
PostgreSQL database created and dropped with --postgres). Prints what it held: commands,
kills, messages, events, and what was lost (always 0, or the script exits 1).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent / "tests"
sys.path[:0] = [str(TESTS / "reliability"), str(TESTS)]

import scenarios  # noqa: E402
from smtp_server import Server  # noqa: E402


@contextmanager
def database(postgres: str | None, folder: Path) -> Iterator[str]:
    if not postgres:
        path = folder / f"soak-{uuid.uuid4().hex[:8]}.db"
        yield str(path)
        return
    from portfolio import pg_database

    with pg_database(postgres) as url:
        yield url


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--postgres", metavar="URL", help="run on fresh PostgreSQL databases made with this URL")
    p.add_argument("--processes", type=int, default=8)
    p.add_argument("--commands", type=int, default=1000, help="commands per process (CI: 200)")
    p.add_argument("--cli-commands", type=int, default=20, help="commands per CLI process, 2 processes (CI: 5)")
    p.add_argument("--kills", type=int, default=200, help="kill -9s (CI: 50)")
    p.add_argument("--smtp-rounds", type=int, default=5, help="runs of the whole SMTP fault matrix (CI: 1)")
    p.add_argument("--downtime-days", type=int, default=400, help="days the scheduler is down (CI: 100)")
    p.add_argument("--fuzz", type=int, default=2000, help="examples per fuzz test (CI: 150)")
    p.add_argument("--only", choices=["writers", "crash", "smtp", "downtime", "fuzz"], action="append")
    args = p.parse_args()
    chosen = set(args.only or ["writers", "crash", "smtp", "downtime", "fuzz"])
    engine = "postgresql" if args.postgres else "sqlite"
    lost = 0
    with tempfile.TemporaryDirectory(prefix="wijkflow-soak-") as tmp:
        folder = Path(tmp)
        if "writers" in chosen:
            with database(args.postgres, folder) as url:
                t = time.perf_counter()
                h = scenarios.concurrent_writers(url, processes=args.processes, commands=args.commands,
                                                 cli_processes=2, cli_commands=args.cli_commands)
                inv = scenarios.check_invariants(url)
                bad = len(h["crashes"]) + (h["new_events"] != h["expected_events"])
                lost += bad
                print(f"[{engine}] concurrent writers: {h['processes']} processes x {args.commands} API commands "
                      f"+ 2 x {args.cli_commands} CLI = {h['commands']} commands in {time.perf_counter() - t:.0f} s; "
                      f"succeeded {sum(h['ok'].values())} {h['ok']}, refused {h['refused']}; "
                      f"new events {sum(h['new_events'].values())} (expected {sum(h['expected_events'].values())}); "
                      f"chain of {inv['checked']} events verifies; slowest command {h['slowest']:.2f} s; "
                      f"crashes {len(h['crashes'])}; lost {bad}")
                for text, n in sorted(h["conflicts"].items(), key=lambda kv: -kv[1]):
                    print(f"    exit 6 x {n}: {text}")
                for c in h["crashes"][:3]:
                    print(c)
        if "crash" in chosen:
            with database(args.postgres, folder) as url, Server() as server:
                t = time.perf_counter()
                h = scenarios.crash_at_any_point(url, kills=args.kills, server=server)
                bad = (len(h["missing"]) + len(h["unknown"]) + len(set(h["duplicates"])
                                                                   - set(h["accepted_not_recorded_at_a_kill"]))
                       + (h["states"] != {"sent": h["messages"]}))
                lost += bad
                print(f"[{engine}] crash at any point: {h['kills']} kill -9s ({h['advancer kills']} advancing, "
                      f"{h['scheduler kills']} sending) in {time.perf_counter() - t:.0f} s, invariants checked "
                      f"after each; {h['events']} events; {h['messages']} messages, {h['received']} received, "
                      f"{len(h['duplicates'])} duplicates (all accepted but unrecorded at a kill); lost {bad}")
        if "smtp" in chosen:
            with database(args.postgres, folder) as url, Server() as server:
                t = time.perf_counter()
                h = scenarios.smtp_faults(url, server, rounds=args.smtp_rounds)
                bad = len(h["missing"]) + len(h["failed_but_delivered"]) + len(
                    set(h["duplicates"]) - set(h["accepted_not_recorded"]))
                lost += bad
                print(f"[{engine}] SMTP faults: {sum(h['faults'].values())} faults {h['faults']} in "
                      f"{time.perf_counter() - t:.0f} s; {h['messages']} messages {h['states']}, {h['received']} "
                      f"received, failed only to {h['failed_to']}; {len(h['duplicates'])} duplicates; lost {bad}")
        if "downtime" in chosen:
            with database(args.postgres, folder) as url, Server() as server:
                h = scenarios.downtime(url, server, folder / f"wf-{uuid.uuid4().hex[:6]}", days=args.downtime_days)
                bad = len(h["still_pending"]) + len(h["duplicates"]) + len(h["missing"]) + (
                    set(h["every_sent_per_rule"].values()) != {1})
                lost += bad
                print(f"[{engine}] downtime of {h['days']} days: {h['due_in_gap']} reminders due {h['kinds']}, "
                      f"{h['messages']} messages {h['states']}, one catch-up per repeating rule "
                      f"{sorted(h['every_sent_per_rule'].values())}, next at {h['next_every_due_local']}; "
                      f"duplicates {len(h['duplicates'])}; lost {bad}")
    if "fuzz" in chosen:
        env = {**os.environ, "RELIABILITY_FUZZ_EXAMPLES": str(args.fuzz), "RELIABILITY_FUZZ_RANDOM": "1"}
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               str(TESTS / "reliability" / "test_rel_fuzz.py")]
        if args.postgres:
            cmd += ["--postgres", args.postgres]
        t = time.perf_counter()
        proc = subprocess.run(cmd, cwd=HERE.parent, env=env, capture_output=True, text=True)
        print(f"[{engine}] fuzzing: {args.fuzz} generated definitions, {args.fuzz} command lines and "
              f"{max(args.fuzz // 2, 1)} sets of bad settings per engine "
              f"in {time.perf_counter() - t:.0f} s: {proc.stdout.strip().splitlines()[-1]}")
        if proc.returncode != 0:
            print(proc.stdout[-4000:])
            lost += 1
    print(f"lost: {lost}")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
