"""How many reminder messages one sweep delivers per second to a local SMTP server (aiosmtpd).

    python benchmarks/smtp_throughput.py [AANPAKKEN]

Each imported aanpak (in monitor since 1 July 2025) has 5 messages due on 2 March 2026
(coordinator and projectleider twice, one approver once), so 200 aanpakken = 1000 messages.
The clock is fixed; only the sweep is timed (render + SMTP + one write transaction per message).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from smtp_server import free_port  # noqa: E402

from wijkflow import App, services  # noqa: E402
from wijkflow.reminders.sweep import sweep  # noqa: E402


def main(n: int) -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Europe/Amsterdam")).astimezone(UTC)
    port = free_port()
    # The server in its own process, so it does not share the sweep's interpreter lock.
    server = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
                               "-c", "aiosmtpd.handlers.Sink"])
    try:
        _run(n, now, port)
    finally:
        server.terminate()
        server.wait(timeout=10)


def _run(n: int, now: datetime, port: int) -> None:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    with tempfile.TemporaryDirectory() as tmp:
        app = App.open(f"sqlite:///{tmp}/bench.db", clock=lambda: now, smtp_host="127.0.0.1",
                       smtp_port=port, smtp_security="none")
        app.db.init()
        for email, name in [("pl@x.example", "PL"), ("wr@x.example", "WR"), ("sg@x.example", "SG")]:
            services.add_person(app, email, name=name)
        for i in range(n):
            services.create_aanpak(app, f"Aanpak {i}", wijk=f"Wijk {i}", leader="pl@x.example",
                                   coordinators=("wr@x.example",), approvers=("sg@x.example",),
                                   acting="pl@x.example", phase="monitor", since="2025-07-01")
        start = time.perf_counter()
        result = sweep(app)
        elapsed = time.perf_counter() - start
        assert result.sent == 5 * n and result.failed == result.retrying == 0, result.as_dict()
        print(f"{result.sent} messages in {elapsed:.2f} s: {result.sent / elapsed:.0f} messages/s "
              f"(one sweep, one SMTP connection, SQLite WAL)")
        app.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
