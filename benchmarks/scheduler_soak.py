"""Soak: several `wijkflow scheduler run` processes on one database deliver every due reminder once.

    python benchmarks/scheduler_soak.py [--nodes 4] [--messages 10000] [--postgres ADMIN_URL | --sqlite]
                                        [--kill-after SECONDS]

Builds a fresh database with MESSAGES due reminder messages (MESSAGES / 5 aanpakken, cloned in
bulk), starts a real SMTP server (aiosmtpd on 127.0.0.1) and NODES scheduler processes (the
installed command, clock fixed at the due moment), and counts what the server received by
Message-ID: duplicates, missing (sent in the database but not received, or never sent), and
the wall time from starting the nodes to the last message.

With --kill-after, one node is killed (SIGKILL) that many seconds in, while it holds claims;
the others finish what is not claimed, and then a node whose clock is past the lease takes the
dead node's claims over. A message the dead node had handed to the server but not recorded can
then arrive twice (the documented crash window); the report counts it.
"""

from __future__ import annotations

import argparse
import collections
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from portfolio import MESSAGES_PER_AANPAK, NOW, admin_url, build, machine, pg_database  # noqa: E402
from smtp_server import Server  # noqa: E402

WIJKFLOW = str(Path(sys.executable).with_name("wijkflow"))
LEASE = 30


def start_node(url: str, port: int, clock_at, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIJKFLOW_")}
    env.update({"WIJKFLOW_DATABASE_URL": url, "WIJKFLOW_NOW": clock_at.isoformat(), "WIJKFLOW_CONFIG": "",
                "WIJKFLOW_SMTP_HOST": "127.0.0.1", "WIJKFLOW_SMTP_PORT": str(port),
                "WIJKFLOW_SMTP_SECURITY": "none", "WIJKFLOW_LEASE_SECONDS": str(LEASE)})
    with open(log, "w") as out:
        return subprocess.Popen([WIJKFLOW, "scheduler", "run", "--interval", "1"], env=env, stdout=out,
                                stderr=subprocess.STDOUT)


def outbox(url: str) -> collections.Counter:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return collections.Counter(dict(conn.execute(sa.text(
                "SELECT status, count(*) FROM reminder_message GROUP BY status")).all()))
    finally:
        engine.dispose()


def held_by(url: str, pid: int) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM reminder_message WHERE status = 'sending' "
                                        "AND claimed_by LIKE :token"), {"token": f"%:{pid}:%"}).scalar()
    finally:
        engine.dispose()


def sent_ids(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {r[0] for r in conn.execute(sa.text(
                "SELECT message_id FROM reminder_message WHERE status = 'sent'"))}
    finally:
        engine.dispose()


def settle(server: Server, url: str, expected: int, timeout: float, quiet: float = 120) -> float:
    """Wait until `expected` messages arrived, or nothing arrived for `quiet` seconds; the last arrival."""
    deadline = time.monotonic() + timeout
    last, last_change = 0, time.monotonic()
    while time.monotonic() < deadline:
        n = len(server.messages)
        if n != last:
            last, last_change = n, time.monotonic()
        if n >= expected or time.monotonic() - last_change > quiet:
            return last_change
        time.sleep(0.1)
    return last_change


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def run(url: str, nodes: int, messages: int, kill_after: float | None, logs: Path) -> None:
    t = time.perf_counter()
    build(url, messages // MESSAGES_PER_AANPAK).close()
    print(f"built {messages // MESSAGES_PER_AANPAK} aanpakken, {messages} due messages in "
          f"{time.perf_counter() - t:.1f} s", flush=True)
    with Server() as server:
        started = time.monotonic()
        procs = [start_node(url, server.port, NOW, logs / f"node{i}.log") for i in range(nodes)]
        killed = None
        try:
            if kill_after is not None:
                time.sleep(kill_after)
                while not held_by(url, procs[0].pid):  # kill it while it holds claims
                    time.sleep(0.02)
                procs[0].send_signal(signal.SIGKILL)
                procs[0].wait()
                killed = held_by(url, procs[0].pid)  # its claimed messages not recorded as sent
                print(f"killed node 0 after {kill_after:g} s, holding {killed} claimed, unrecorded messages",
                      flush=True)
            last = settle(server, url, messages - (killed or 0), timeout=1800)
            elapsed = last - started
        finally:
            stop(procs)
        first_pass = len(server.messages)
        takeover = None
        if killed:
            t0 = time.monotonic()
            later = start_node(url, server.port, NOW + timedelta(seconds=LEASE + 1), logs / "takeover.log")
            try:
                settle(server, url, messages, timeout=600)
            finally:
                stop([later])
            takeover = (len(server.messages) - first_pass, time.monotonic() - t0)
        received = collections.Counter(m["Message-ID"] for m in server.messages)
    state = outbox(url)
    in_db = sent_ids(url)
    dupes = sum(n - 1 for n in received.values() if n > 1)
    missing = messages - len(set(received))
    not_recorded = len(set(received) - in_db)
    print(f"{nodes} nodes, {messages} messages: first pass {first_pass} received in {elapsed:.1f} s "
          f"({first_pass / elapsed:.0f} messages/s)")
    if takeover:
        print(f"takeover node (clock past the {LEASE} s lease): {takeover[0]} more in {takeover[1]:.1f} s "
              "(including its start-up)")
    print(f"duplicates={dupes} missing={missing} received-but-not-recorded-as-sent={not_recorded} "
          f"database: {dict(state)}")
    for log in sorted(logs.glob("*.log")):
        sweeps = [line for line in log.read_text().splitlines() if line.startswith("sweep:")]
        total = sum(int(line.split()[1]) for line in sweeps)
        print(f"  {log.stem}: {total} sent in {len(sweeps)} sweep(s) with something to do")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=4)
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--postgres", default=admin_url(), help="admin URL (default WIJKFLOW_BENCH_POSTGRES or "
                    "WIJKFLOW_TEST_POSTGRES); a fresh database is made and dropped")
    ap.add_argument("--sqlite", action="store_true", help="one SQLite file instead of PostgreSQL")
    ap.add_argument("--kill-after", type=float, default=None, metavar="SECONDS")
    args = ap.parse_args()
    print(machine(None if args.sqlite else args.postgres))
    with tempfile.TemporaryDirectory() as tmp:
        if args.sqlite or not args.postgres:
            print("engine: SQLite (one file, WAL)")
            run(f"sqlite:///{tmp}/soak.db", args.nodes, args.messages, args.kill_after, Path(tmp))
        else:
            print("engine: PostgreSQL")
            with pg_database(args.postgres) as url:
                run(url, args.nodes, args.messages, args.kill_after, Path(tmp))


if __name__ == "__main__":
    main()
