"""Run every benchmark, one after the other, and print what they print (the README's Performance table).

    python benchmarks/run_all.py [--postgres ADMIN_URL] [--quick] [--only sweep,mail]

Needs the bench extra (`pip install -e '.[test,bench]'`: aiosmtpd, SpiffWorkflow 3.2.0) and, for
the PostgreSQL rows, an admin URL (or WIJKFLOW_BENCH_POSTGRES / WIJKFLOW_TEST_POSTGRES): each
benchmark makes its own databases there and drops them. --quick uses small sizes (a smoke
test of the scripts; the numbers then mean little).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from portfolio import admin_url, machine  # noqa: E402


def plan(quick: bool) -> dict[str, list[str]]:
    return {
        "lifecycle": ["lifecycle.py"] + (["-n", "200"] if quick else []),
        "cli": ["cli.py"] + (["--runs", "3"] if quick else ["--runs", "15"]),
        "remote_startup": ["remote_startup.py"] + (["--runs", "3"] if quick else ["--runs", "15"]),
        "sweep": ["sweep.py"] + (["--runs", "1", "--big", "5000"] if quick else ["--runs", "5"]),
        "audit": ["audit.py"] + (["--events", "50000", "--runs", "1"] if quick else ["--runs", "3"]),
        "mail": ["mail.py"] + (["--messages", "100", "--runs", "1"] if quick else ["--runs", "3"]),
        "scheduler_soak": ["scheduler_soak.py"] + (["--messages", "500"] if quick else []),
        "web_load": ["web_load.py"] + (["--gets", "100", "--posts", "50"] if quick else []),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--postgres", default=admin_url())
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default=None, help="comma-separated names: " + ", ".join(plan(False)))
    args = ap.parse_args()
    env = dict(os.environ)
    if args.postgres:
        env["WIJKFLOW_BENCH_POSTGRES"] = args.postgres
    else:
        env.pop("WIJKFLOW_BENCH_POSTGRES", None)
        env.pop("WIJKFLOW_TEST_POSTGRES", None)
    print("machine:", machine(args.postgres), flush=True)
    chosen = plan(args.quick)
    if args.only:
        chosen = {k: v for k, v in chosen.items() if k in args.only.split(",")}
    failed = []
    for name, cmd in chosen.items():
        if name == "scheduler_soak" and not args.postgres:
            cmd = [*cmd, "--sqlite"]
        print(f"\n=== {name}: python benchmarks/{' '.join(cmd)}", flush=True)
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, str(HERE / cmd[0]), *cmd[1:]], env=env)
        print(f"=== {name}: {time.perf_counter() - t0:.0f} s{'' if r.returncode == 0 else ' FAILED'}", flush=True)
        if r.returncode:
            failed.append(name)
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
