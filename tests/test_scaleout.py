"""Several `wijkflow scheduler run` processes on one database: every message once, a dead node's lease taken over.

Real processes (the installed command), a real SMTP server (aiosmtpd on 127.0.0.1), SQLite
and, with --postgres, PostgreSQL. Messages are counted by Message-ID as the server got them.
The schedulers run on a fixed clock (WIJKFLOW_NOW); the node that takes over a dead node's
claims runs with a clock past the lease, which is exactly what the lease compares.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from conftest import wijkflow_command
from smtp_server import Server

from wijkflow import services
from wijkflow.app import App
from wijkflow.config import load_settings
from wijkflow.errors import InvalidInput
from wijkflow.reminders.mailers import MemoryMailer
from wijkflow.reminders.sweep import sweep

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Europe/Amsterdam")).astimezone(UTC)
LEASE = 30  # seconds; the takeover node's clock is past it, so the test never waits for it
AANPAKKEN = 30  # x 5 messages due each = 150: more than one claim batch (100)


def fill(db_url: str, n: int) -> None:
    """n aanpakken in monitor since 1 July 2025: each has 5 messages due at NOW."""
    app = App.open(db_url, clock=lambda: NOW)
    app.db.init()
    for email, name in [("pl@x.example", "PL"), ("wr@x.example", "WR"), ("sg@x.example", "SG")]:
        services.add_person(app, email, name=name)
    for i in range(n):
        services.create_aanpak(app, f"Aanpak {i}", wijk=f"Wijk {i}", leader="pl@x.example",
                               coordinators=("wr@x.example",), approvers=("sg@x.example",),
                               acting="pl@x.example", phase="monitor", since="2025-07-01")
    app.close()


def outbox(db_url: str) -> dict[str, list]:
    """message status -> Message-IDs, from the database."""
    engine = sa.create_engine(db_url if "://" in db_url else f"sqlite:///{db_url}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT status, message_id, claimed_by FROM reminder_message")).all()
            sent_events = conn.execute(sa.text(
                "SELECT count(*) FROM audit_event WHERE type = 'reminder_sent'")).scalar()
    finally:
        engine.dispose()
    by: dict[str, list] = collections.defaultdict(list)
    for status, mid, claimed_by in rows:
        by[status].append((mid, claimed_by))
    by["events"] = [sent_events]
    return by


def start(db_url: str, port: int, now: datetime, tmp_path, name: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIJKFLOW_")}
    env.update({"WIJKFLOW_DATABASE_URL": db_url, "WIJKFLOW_NOW": now.isoformat(), "WIJKFLOW_CONFIG": "",
                "WIJKFLOW_SMTP_HOST": "127.0.0.1", "WIJKFLOW_SMTP_PORT": str(port),
                "WIJKFLOW_SMTP_SECURITY": "none", "WIJKFLOW_LEASE_SECONDS": str(LEASE),
                "WIJKFLOW_OUTBOX_DIR": str(tmp_path / "outbox")})
    with open(tmp_path / f"{name}.log", "w") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([*wijkflow_command(), "scheduler", "run", "--interval", "0.3"], env=env,
                                stdout=log, stderr=subprocess.STDOUT)


def wait_for(check, what: str, timeout: float = 45) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def test_several_schedulers_deliver_each_message_once_and_take_over_a_dead_nodes_lease(db_url, tmp_path):
    fill(db_url, AANPAKKEN)
    total = 5 * AANPAKKEN
    with Server() as server:
        # Node A claims a batch, starts sending the first message and hangs there; then it is killed.
        server.handler.mode = "hang"
        a = start(db_url, server.port, NOW, tmp_path, "a")
        try:
            wait_for(lambda: server.handler.hanging >= 1, "node A to start sending")
            a.send_signal(signal.SIGKILL)
            a.wait(timeout=10)
        finally:
            if a.poll() is None:
                a.kill()
        server.handler.mode = None
        state = outbox(db_url)
        held_by_a = state["sending"]
        assert len(held_by_a) == 100 and len(state["pending"]) == total - 100
        assert not server.messages

        # Three nodes at once: they deliver everything that is not under A's lease, each message once.
        nodes = [start(db_url, server.port, NOW, tmp_path, f"n{i}") for i in range(3)]
        try:
            wait_for(lambda: len(server.messages) >= total - 100, "the unclaimed messages to go out")
            time.sleep(1.0)  # several more sweeps by every node: A's lease has not run out on this clock
            state = outbox(db_url)
            assert sorted(state["sending"]) == sorted(held_by_a), "a live lease was taken over"
        finally:
            stop(nodes)

        # A node whose clock is past A's lease takes A's claims over and sends them.
        later = start(db_url, server.port, NOW + timedelta(seconds=LEASE + 1), tmp_path, "later")
        try:
            wait_for(lambda: len(server.messages) >= total, "the dead node's messages to go out")
            time.sleep(0.5)
        finally:
            stop([later])

        received = collections.Counter(m["Message-ID"] for m in server.messages)
        state = outbox(db_url)
    dupes = {mid: n for mid, n in received.items() if n > 1}
    sent = {mid for mid, _ in state["sent"]}
    assert dupes == {}
    assert len(received) == total and set(received) == sent  # none missing, nothing extra
    assert set(state) == {"sent", "events"} and state["events"] == [total]
    assert {mid for mid, _ in held_by_a} <= set(received)


def test_lease_seconds_must_be_a_positive_number():
    assert load_settings(env={"WIJKFLOW_LEASE_SECONDS": "90", "WIJKFLOW_CONFIG": ""}).lease_seconds == 90
    assert load_settings(env={"WIJKFLOW_CONFIG": ""}).lease_seconds == 300
    for bad in ("soon", "0", "-5"):
        with pytest.raises(InvalidInput, match="WIJKFLOW_LEASE_SECONDS"):
            load_settings(env={"WIJKFLOW_LEASE_SECONDS": bad, "WIJKFLOW_CONFIG": ""})


def test_a_sweep_renews_its_lease_and_skips_what_another_node_took_over(db_url):
    fill(db_url, 1)  # 5 messages due
    app = App.open(db_url, clock=lambda: NOW, lease_seconds=1e-6)  # renew before every message

    class TakenOverAfterTheFirst(MemoryMailer):
        def send(self, msg, to_addr):
            super().send(msg, to_addr)
            if len(self.sent) == 1:  # meanwhile another node takes over the rest of this sweep's batch
                with app.db.write() as conn:
                    conn.execute(sa.text("UPDATE reminder_message SET claimed_by = 'other-node' "
                                         "WHERE status = 'sending' AND message_id <> :mid"), {"mid": msg["Message-ID"]})

    mailer = TakenOverAfterTheFirst()
    try:
        result = sweep(app, mailer=mailer)
    finally:
        app.close()
    assert (result.sent, len(mailer.sent)) == (1, 1)
    state = outbox(db_url)
    assert len(state["sent"]) == 1 and {c for _, c in state["sending"]} == {"other-node"} and len(state["sending"]) == 4
