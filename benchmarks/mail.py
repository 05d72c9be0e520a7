"""Mail benchmark: one sweep delivering 1,000 reminders to a local aiosmtpd, against a bare smtplib loop.

The baseline sends the very same 1,000 messages (rendered beforehand by a sweep into memory,
as the email package builds them by default) with smtplib over one connection: the floor for
getting these bytes to this server from Python. wijkflow's sweep does everything else as
well: fan-out, claims, rendering (Jinja2, text + HTML), and one transaction with an audit
event per message. Target: wijkflow's rate >= 0.5x the baseline's. Runs interleaved,
medians; the server runs in its own process.

    python benchmarks/mail.py [--messages 1000] [--runs 3] [--postgres ADMIN_URL] [--no-sqlite]
"""

from __future__ import annotations

import argparse
import email.policy
import resource
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from portfolio import MESSAGES_PER_AANPAK, NOW, admin_url, build, pg_database, sqlite_copy, sqlite_template  # noqa: E402
from smtp_server import free_port  # noqa: E402

from wijkflow.app import App  # noqa: E402
from wijkflow.reminders.mailers import MemoryMailer  # noqa: E402
from wijkflow.reminders.sweep import sweep  # noqa: E402


@contextmanager
def smtp_sink():
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
                               "-c", "aiosmtpd.handlers.Sink"])
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)


def wijkflow_sweep(url: str, port: int, expected: int) -> float:
    app = App.open(url, clock=lambda: NOW, smtp_host="127.0.0.1", smtp_port=port, smtp_security="none")
    try:
        t0 = time.perf_counter()
        result = sweep(app)
        elapsed = time.perf_counter() - t0
    finally:
        app.close()
    assert result.sent == expected and result.failed == result.retrying == 0, result.as_dict()
    return elapsed


def as_the_stdlib_builds_them(messages: list) -> list:
    """The baseline's messages as the email package builds them by default (compat32, boundaries drawn
    while flattening), so the floor does not get faster with wijkflow's own policy (render.WirePolicy)."""
    for _, msg in messages:
        for part in msg.walk():
            part.policy = email.policy.compat32
            if part.is_multipart():
                part.del_param("boundary")
    return messages


def bare_smtplib(messages: list, port: int) -> float:
    t0 = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for to_addr, msg in messages:
            smtp.send_message(msg, from_addr="wijkflow@localhost", to_addrs=[to_addr])
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--postgres", default=admin_url())
    ap.add_argument("--no-sqlite", action="store_true")
    args = ap.parse_args()
    n = args.messages
    print(f"mail benchmark: {n} reminder messages to aiosmtpd on 127.0.0.1 (own process), one SMTP connection "
          f"each way, median of {args.runs} interleaved runs")
    print(f"{'engine':<12}{'wijkflow msg/s':>15}{'smtplib msg/s':>15}{'ratio':>8}{'target':>9}")
    engines = ([] if args.no_sqlite else ["sqlite"]) + (["postgresql"] if args.postgres else [])
    with smtp_sink() as port, tempfile.TemporaryDirectory() as tmp:
        for engine in engines:
            if engine == "sqlite":
                template = sqlite_template(Path(tmp) / "template.db", n // MESSAGES_PER_AANPAK)
                ours, theirs = run_engine(lambda template=template: sqlite_copy(template), port, n, args.runs)
            else:
                with pg_database(args.postgres) as template_url:
                    build(template_url, n // MESSAGES_PER_AANPAK).close()
                    name = template_url.rsplit("/", 1)[1]
                    ours, theirs = run_engine(lambda name=name: pg_database(args.postgres, template=name),
                                              port, n, args.runs)
            ratio = (n / ours) / (n / theirs)
            print(f"{engine:<12}{n / ours:>15.0f}{n / theirs:>15.0f}{ratio:>7.2f}x{'>= 0.5x':>9} "
                  f"{'met' if ratio >= 0.5 else 'MISSED'}", flush=True)
    print(f"peak memory (this process): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def run_engine(fresh, port: int, n: int, runs: int) -> tuple[float, float]:
    with fresh() as url:  # the same messages, rendered into memory once, for the baseline
        app = App.open(url, clock=lambda: NOW)
        mailer = MemoryMailer()
        sweep(app, mailer=mailer)
        app.close()
    messages = as_the_stdlib_builds_them(mailer.sent)
    assert len(messages) == n, len(messages)
    ours, theirs = [], []
    for _ in range(runs):
        theirs.append(bare_smtplib(messages, port))
        with fresh() as url:
            ours.append(wijkflow_sweep(url, port, n))
    return statistics.median(ours), statistics.median(theirs)


if __name__ == "__main__":
    main()
