"""Delivery against a real SMTP server (aiosmtpd on 127.0.0.1): faults, retries, no duplicates."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import PL, SG1, SG2, WR
from smtp_server import Server, free_port
from smtp_server import smtp_app as _smtp_app

from wijkflow import services
from wijkflow.app import App
from wijkflow.reminders import sweep as sweep_mod
from wijkflow.reminders.sweep import sweep

REPO = Path(__file__).resolve().parent.parent


# These tests wait for timeouts (a server that hangs): half a second instead of two.
smtp_app = functools.partial(_smtp_app, smtp_timeout=0.5)


def minute(value) -> str:
    """A stored moment to the minute, whether the engine hands back text (SQLite) or a datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%d %H:%M")


@pytest.fixture
def due(app: App, people) -> str:
    """An aanpak imported into monitor long ago: 6 messages are due to PL, WR, SG1, SG2."""
    return services.create_aanpak(app, "Wijkaanpak Berflo Es", wijk="Berflo Es", gemeente="Hengelo", leader=PL,
                                  coordinators=(WR,), approvers=(SG1, SG2), acting=PL, phase="monitor",
                                  since="2025-07-01")["slug"]


def messages(app: App) -> list[sa.Row]:
    with app.db.read() as conn:
        return list(conn.execute(sa.text(
            "SELECT m.*, p.email FROM reminder_message m JOIN person p ON p.id = m.person_id ORDER BY m.id")))


def events(app: App, type_: str) -> list[sa.Row]:
    with app.db.read() as conn:
        return list(conn.execute(sa.text("SELECT * FROM audit_event WHERE type = :t"), {"t": type_}))


def test_one_message_per_recipient_with_a_stable_message_id(server, due, db_url, clock):
    a = smtp_app(db_url, clock, server.port)
    result = sweep(a)
    assert (result.sent, result.failed, result.retrying) == (6, 0, 0)
    assert len(server.messages) == 6
    for (mail_from, rcpts), msg in zip(server.handler.envelopes, server.messages, strict=True):
        assert mail_from == "wijkflow@hengelo.example"
        assert len(rcpts) == 1 and [a.addr_spec for a in msg["To"].addresses] == rcpts
    stored = {m.message_id for m in messages(a)}
    assert {m["Message-ID"] for m in server.messages} == stored
    assert all(mid.startswith("<reminder.") and mid.endswith("@hengelo.example>") for mid in stored)
    assert len(events(a, "reminder_sent")) == 6
    assert sweep(a).sent == 0 and len(server.messages) == 6


def test_server_down_retries_with_backoff_then_delivers(due, db_url, clock):
    port = free_port()
    a = smtp_app(db_url, clock, port)
    first = sweep(a)
    assert (first.sent, first.retrying) == (0, 6)
    rows = messages(a)
    assert {r.status for r in rows} == {"pending"}
    assert rows[0].error == f"cannot connect to the SMTP server at 127.0.0.1:{port} (connection refused)"
    assert minute(rows[0].next_attempt_at) == (clock.now + timedelta(minutes=2)).strftime("%Y-%m-%d %H:%M")
    assert sweep(a).sent == 0  # not before the backoff has passed
    sweep(a, now=clock.now + timedelta(minutes=3))
    assert minute(messages(a)[0].next_attempt_at) == (clock.now + timedelta(minutes=7)).strftime("%Y-%m-%d %H:%M")
    with Server() as s:
        b = smtp_app(db_url, clock, s.port)
        clock.forward(minutes=10)
        assert sweep(b).sent == 6 and len(s.messages) == 6
    assert {r.status for r in messages(a)} == {"sent"}


def test_421_is_transient(server, due, db_url, clock):
    server.handler.mode = "421"
    a = smtp_app(db_url, clock, server.port)
    r = sweep(a)
    assert (r.sent, r.retrying, r.failed) == (0, 6, 0)
    assert "421 4.3.2 Service not available, try again later" in messages(a)[0].error
    server.handler.mode = None
    clock.forward(minutes=5)
    assert sweep(a).sent == 6


def test_550_for_one_recipient_fails_that_one_only_with_the_servers_answer(server, due, db_url, clock, run):
    server.handler.refuse[WR] = "550 5.1.1 <erna@hengelo.example>: Recipient address rejected"
    a = smtp_app(db_url, clock, server.port)
    r = sweep(a)
    assert (r.sent, r.failed) == (4, 2)
    failed = [m for m in messages(a) if m.status == "failed"]
    assert {m.email for m in failed} == {WR}
    assert failed[0].error == ("the server refused erna@hengelo.example: "
                               "550 5.1.1 <erna@hengelo.example>: Recipient address rejected")
    listed = run("reminders", "list", "--failed")
    assert listed.exit_code == 0
    assert listed.stdout.count("  Msg ") == 2 and "erna@hengelo.example" in listed.stdout
    assert len(events(a, "reminder_failed")) == 2
    clock.forward(1)
    assert sweep(a).sent == 0  # a permanent failure is not retried


def test_a_temporary_failure_gives_up_at_the_8th_attempt_after_4_h_14_min_with_the_servers_answer(
        server, due, db_url, clock, run):
    """README, "Failures": retries 2, 4 ... 128 minutes apart; the 8th failure marks the message failed."""
    server.handler.mode = "421"
    a = smtp_app(db_url, clock, server.port)
    first = clock.now
    for attempt in range(1, 8):
        r = sweep(a)
        assert (r.sent, r.retrying, r.failed) == (0, 6, 0), f"attempt {attempt}"
        rows = messages(a)
        assert {(m.status, m.attempts) for m in rows} == {("pending", attempt)}
        wait = timedelta(minutes=2 ** attempt)
        assert {minute(m.next_attempt_at) for m in rows} == {(clock.now + wait).strftime("%Y-%m-%d %H:%M")}
        assert sweep(a, now=clock.now + wait - timedelta(seconds=1)).retrying == 0  # not before its time
        clock.now += wait
    assert clock.now - first == timedelta(hours=4, minutes=14)
    last = sweep(a)
    assert (last.sent, last.retrying, last.failed) == (0, 0, 6)
    rows = messages(a)
    assert {(m.status, m.attempts) for m in rows} == {("failed", 8)}
    assert {m.error for m in rows} == {"gave up after 8 attempts: " + rows[0].error.split(": ", 1)[1]}
    assert "421 4.3.2 Service not available, try again later" in rows[0].error
    assert len(events(a, "reminder_retry_scheduled")) == 6 * 7 and len(events(a, "reminder_failed")) == 6
    assert all("gave up after 8 attempts" in e.payload for e in events(a, "reminder_failed"))
    listed = run("reminders", "list", "--failed", "--format", "json")
    assert listed.exit_code == 0 and listed.stdout.count("gave up after 8 attempts") == 6
    server.handler.mode = None
    clock.forward(1)
    assert sweep(a).sent == 0 and not server.messages  # given up is final


def test_connection_closed_mid_message_is_retried(server, due, db_url, clock):
    server.handler.mode = "drop"
    a = smtp_app(db_url, clock, server.port)
    r = sweep(a)
    assert r.sent == 0 and r.retrying == 6
    assert "closed the connection" in messages(a)[0].error
    server.handler.mode = None
    clock.forward(minutes=5)
    assert sweep(a).sent == 6 and len(server.messages) == 6


def test_a_server_slower_than_the_timeout_is_retried(server, due, db_url, clock):
    server.handler.mode, server.handler.delay = "slow", 1.2
    a = smtp_app(db_url, clock, server.port, smtp_timeout=0.3)
    r = sweep(a)
    assert r.sent == 0 and r.retrying == 6
    assert messages(a)[0].error == f"the server at 127.0.0.1:{server.port} did not answer within 0.3 s"


def test_forgotten_person_gets_nothing_and_a_malformed_address_fails_visibly(server, due, app, db_url, clock):
    services.forget_person(app, SG2, acting=SG2)  # their roles end with them (issue 12): no message at all
    with app.db.write() as conn:  # an address that slipped in before validation existed
        conn.execute(sa.text("UPDATE person SET email = 'robert at welbions' WHERE email = :e"), {"e": SG1})
    a = smtp_app(db_url, clock, server.port)
    r = sweep(a)
    errors = sorted(m.error for m in messages(a) if m.status == "failed")
    assert errors == ["'robert at welbions' is not an email address"] * r.failed and r.failed >= 1
    assert r.sent == 4
    with app.db.read() as conn:
        sg2 = conn.execute(sa.text("SELECT count(*) FROM reminder_message m JOIN person p ON p.id = m.person_id "
                                   "WHERE p.forgotten_at IS NOT NULL")).scalar()
    assert sg2 == 0


def test_an_address_the_mail_cannot_carry_fails_that_message_and_the_sweep_goes_on(server, due, app, db_url, clock):
    with app.db.write() as conn:  # stored before wijkflow refused non-ASCII addresses
        conn.execute(sa.text("UPDATE person SET email = 'röbert@welbions.example' WHERE email = :e"), {"e": SG1})
    a = smtp_app(db_url, clock, server.port)
    r = sweep(a)
    assert (r.sent, r.failed) == (5, 1) and len(server.messages) == 5
    assert [m.error for m in messages(a) if m.status == "failed"] == [
        "'röbert@welbions.example' needs SMTPUTF8, which wijkflow does not use"]


def test_a_template_that_fails_names_the_template_and_keeps_the_message(people, db_url, clock, tmp_path, server):
    wf = tmp_path / "wf"
    wf.mkdir()
    text = (REPO / "workflows" / "wijkaanpak.yaml").read_text(encoding="utf-8")
    text = text.replace("name: wijkaanpak\n", "name: kapot\n").replace("template: stagnatie", "template: bestaatniet")
    (wf / "kapot.yaml").write_text(text, encoding="utf-8")
    a = smtp_app(db_url, clock, server.port, workflows_dir=str(wf))
    services.create_aanpak(a, "Kapot", wijk="Noord", workflow="kapot", leader=PL, approvers=(SG1,), acting=PL,
                           phase="monitor", since="2025-01-01")
    r = sweep(a)
    assert (r.sent, r.retrying) == (1, 2)  # the monitoring report goes; the stalled escalation cannot render
    stuck = [m for m in messages(a) if m.status == "pending"]
    assert {m.email for m in stuck} == {PL, SG1}
    assert stuck[0].error == ("The notification template notifications/bestaatniet.nl.txt cannot be "
                              "rendered: there is no template bestaatniet.nl.txt.")


def test_newline_and_script_in_names_cannot_inject_headers_and_are_escaped(server, app, people, db_url, clock):
    a = services.create_aanpak(app, "Noord <script>alert(1)</script>", wijk="Noord", leader=PL,
                               approvers=(SG1,), acting=PL, phase="monitor", since="2025-01-01")
    with app.db.write() as conn:  # data imported from elsewhere, past the CLI's checks
        conn.execute(sa.text("UPDATE aanpak SET wijk = :w WHERE id = :i"),
                     {"w": "Noord\r\nBcc: everyone@example.org", "i": a["id"]})
        conn.execute(sa.text("UPDATE person SET name = :n WHERE email = :e"),
                     {"n": "Robert\nBcc: x@example.org <script>", "e": SG1})
    r = sweep(smtp_app(db_url, clock, server.port))
    assert r.sent == 3
    for msg in server.messages:
        assert msg["Bcc"] is None
        assert "\n" not in msg["Subject"] and "Noord Bcc: everyone@example.org" in msg["Subject"]
        html = msg.get_body(("html",)).get_content()
        assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    robert = next(m for m in server.messages if m["To"].addresses[0].addr_spec == SG1)
    assert robert["To"].addresses[0].display_name == "Robert Bcc: x@example.org <script>"
    assert all(len(rcpts) == 1 for _, rcpts in server.handler.envelopes)


def test_two_sweeps_at_the_same_moment_send_nothing_twice(server, app, people, db_url, clock):
    for i in range(8):
        services.create_aanpak(app, f"Aanpak {i}", wijk=f"Wijk {i}", leader=PL, coordinators=(WR,),
                               approvers=(SG1,), acting=PL, phase="monitor", since="2025-07-01")
    barrier = threading.Barrier(2)
    results = []

    def one() -> None:
        a = smtp_app(db_url, clock, server.port)
        barrier.wait()
        results.append(sweep(a))
        a.close()

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [m["Message-ID"] for m in server.messages]
    assert len(ids) == len(set(ids)) == sum(r.sent for r in results) == 8 * 5
    assert {m.status for m in messages(app)} == {"sent"}
    assert len(events(app, "reminder_sent")) == 40
    assert_chain_verifies(app)


def assert_chain_verifies(app: App) -> None:
    """Sending wrote its audit events into the one hash chain, in order, without breaking it."""
    from wijkflow import audit, store

    prev = audit.GENESIS
    with app.db.read() as conn:
        for e in store.events(conn):
            body = {k: getattr(e, k) for k in ("id", "at", "aanpak_id", "type", "actor_id", "from_phase",
                                                "to_phase", "reason", "evidence", "payload")}
            assert e.prev_hash == prev and e.hash == audit.chain_hash(prev, body), e.id
            assert not any(addr in e.payload for addr in (PL, WR, SG1, SG2))  # personal data stays in person
            prev = e.hash


def test_two_reminder_send_processes_at_once_send_nothing_twice(server, app, people, db_url, clock, sh):
    for i in range(5):
        services.create_aanpak(app, f"Aanpak {i}", wijk=f"Wijk {i}", leader=PL, coordinators=(WR,),
                               approvers=(SG1,), acting=PL, phase="monitor", since="2025-07-01")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("WIJKFLOW_")},
           "WIJKFLOW_DATABASE_URL": db_url, "WIJKFLOW_NOW": clock.iso, "WIJKFLOW_SMTP_HOST": "127.0.0.1",
           "WIJKFLOW_SMTP_PORT": str(server.port), "WIJKFLOW_SMTP_SECURITY": "none"}
    from conftest import wijkflow_command

    procs = [subprocess.Popen([*wijkflow_command(), "reminders", "send"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    ids = [m["Message-ID"] for m in server.messages]
    assert len(ids) == len(set(ids)) == 25


CRASHER = textwrap.dedent("""
    import sys
    from datetime import datetime
    from wijkflow.app import App
    from wijkflow.reminders.sweep import sweep

    app = App.open(sys.argv[1], clock=lambda: datetime.fromisoformat(sys.argv[2]), smtp_host="127.0.0.1",
                   smtp_port=int(sys.argv[3]), smtp_security="none")
    sweep(app)
""")


def test_kill_9_between_accept_and_record_gives_at_most_one_duplicate_with_the_same_message_id(
        server, due, app, db_url, clock):
    accept = server.handler.handle_DATA
    sweeping: list[subprocess.Popen] = []

    async def accept_then_kill(srv, session, envelope):
        answer = await accept(srv, session, envelope)  # the server has the message ...
        os.kill(sweeping[0].pid, signal.SIGKILL)  # ... and the sweep dies before it can record that
        return answer

    server.handler.handle_DATA = accept_then_kill
    proc = subprocess.Popen([sys.executable, "-c", CRASHER, db_url, clock.iso, str(server.port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sweeping.append(proc)
    proc.communicate(timeout=60)
    server.handler.handle_DATA = accept
    assert proc.returncode == -9
    assert len(server.messages) == 1
    first = server.messages[0]["Message-ID"]
    stuck = [m for m in messages(app) if m.status == "sending"]
    assert len(stuck) == 6  # claimed by the dead sweep; nothing lost
    a = smtp_app(db_url, clock, server.port)
    assert sweep(a).sent == 0  # a live claim is respected
    clock.forward(minutes=61)  # the claim is stale: another sweep takes over
    assert sweep(a).sent == 6
    ids = [m["Message-ID"] for m in server.messages]
    assert len(ids) == 7 and ids.count(first) == 2 and len(set(ids)) == 6
    assert {m.status for m in messages(a)} == {"sent"}


def test_digest_sends_one_message_per_recipient_per_sweep(server, app, people, db_url, clock):
    for i in range(3):
        services.create_aanpak(app, f"Aanpak {i}", wijk=f"Wijk {i}", leader=PL, coordinators=(WR,),
                               approvers=(SG2,), acting=PL, phase="monitor", since="2025-07-01")
    r = sweep(smtp_app(db_url, clock, server.port, mail_digest="true"))
    assert r.sent == 15  # 15 reminders recorded as sent ...
    assert sorted(m["To"].addresses[0].addr_spec for m in server.messages) == sorted([PL, WR, SG2])  # ... 3 mails
    erna = next(m for m in server.messages if m["To"].addresses[0].addr_spec == WR)
    assert erna["Subject"] == "6 herinneringen van wijkflow"
    assert erna.get_body(("plain",)).get_content().count("Wijk ") >= 6
    jennifer = next(m for m in server.messages if m["To"].addresses[0].addr_spec == SG2)
    assert jennifer["Subject"] == "3 reminders from wijkflow"
    assert "You have 3 reminders." in jennifer.get_body(("plain",)).get_content()
    assert sweep(smtp_app(db_url, clock, server.port, mail_digest="true")).sent == 0


def test_a_digest_claimed_in_digest_mode_goes_as_one_digest_after_the_mode_is_turned_off(server, app, people,
                                                                                        db_url, clock):
    """A digest is fixed when first claimed (its Message-ID stamped on its messages); a later sweep without
    digest mode must send it whole, never the same Message-ID on several different mails."""
    for i in range(3):
        services.create_aanpak(app, f"Aanpak {i}", wijk=f"Wijk {i}", leader=PL, coordinators=(WR,),
                               approvers=(SG2,), acting=PL, phase="monitor", since="2025-07-01")
    down = sweep(smtp_app(db_url, clock, free_port(), mail_digest="true"))  # nobody listens: all to retry
    assert down.sent == 0 and down.retrying == 15
    clock.forward(hours=1)
    assert sweep(smtp_app(db_url, clock, server.port)).sent == 15
    ids = [m["Message-ID"] for m in server.messages]
    assert sorted(m["To"].addresses[0].addr_spec for m in server.messages) == sorted([PL, WR, SG2])
    assert len(set(ids)) == len(ids) == 3


def test_deadline_reminder_carries_a_calendar_entry(server, app, aanpak, db_url, clock):
    services.set_deadline(app, aanpak, "lokaal_contract", "2026-03-09", acting=PL)
    r = sweep(smtp_app(db_url, clock, server.port))
    assert r.sent == 2  # 5 werkdagen before 9 March is today
    msg = server.messages[0]
    assert msg["Subject"] == "Deadline nadert: Lokaal contract opgesteld (Noord)"
    (ics,) = [p for p in msg.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert ics.get_filename() == "deadline.ics"
    body = ics.get_content()
    # The UID names this installation (its mail domain); a first deadline is SEQUENCE 0.
    assert "DTSTART;VALUE=DATE:20260309" in body and "UID:deadline.1.lokaal_contract@hengelo.example" in body
    assert "SEQUENCE:0" in body and "METHOD:PUBLISH" in body
    assert "over 7 dagen" in msg.get_body(("plain",)).get_content()
    # The day after the deadline, still open: the overdue one, without a calendar entry for a past date.
    clock.forward(8)
    sweep(smtp_app(db_url, clock, server.port))
    overdue = server.messages[-1]
    assert overdue["Subject"] == "Deadline verstreken: Lokaal contract opgesteld (Noord)"
    assert not [p for p in overdue.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert "deadline.ics" not in overdue.get_body(("plain",)).get_content()


def test_a_moved_deadline_updates_the_calendar_entry(server, app, aanpak, db_url, clock):
    """Same UID, a higher SEQUENCE: Outlook and Google update the entry instead of adding a second."""
    services.set_deadline(app, aanpak, "lokaal_contract", "2026-03-09", acting=PL)
    sweep(smtp_app(db_url, clock, server.port))
    services.set_deadline(app, aanpak, "lokaal_contract", "2026-03-10", acting=PL)
    services.set_deadline(app, aanpak, "lokaal_contract", "2026-03-09", acting=PL)  # and back again
    clock.forward(0.5)
    r = sweep(smtp_app(db_url, clock, server.port))
    assert r.sent == 2  # moving back to a date it had before schedules anew
    (ics,) = [p for p in server.messages[-1].iter_attachments() if p.get_content_type() == "text/calendar"]
    body = ics.get_content()
    assert "UID:deadline.1.lokaal_contract@hengelo.example" in body and "SEQUENCE:2" in body


def test_password_from_a_file_is_never_shown(tmp_path, run):
    secret = tmp_path / "pw"
    secret.write_text("s3cret-Wachtwoord\n")
    r = run("config", env={"WIJKFLOW_SMTP_PASSWORD": "s3cret-Wachtwoord"})
    assert "s3cret" not in r.stdout and "********" in r.stdout
    from wijkflow.reminders.mailers import SmtpMailer

    m = SmtpMailer(host="h", port=25, security="none", user="u", password_env=None, password_file=str(secret),
                   timeout=1, mail_from="a@b.nl")
    assert m._password() == "s3cret-Wachtwoord" and "s3cret" not in repr(m)


def test_backoff_doubles_and_caps():
    assert [sweep_mod.backoff(n).total_seconds() / 60 for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    assert sweep_mod.backoff(20) == timedelta(hours=6)


def test_starttls_required_but_not_offered_is_a_clear_retryable_error(server, due, db_url, clock):
    a = smtp_app(db_url, clock, server.port, smtp_security="starttls")
    r = sweep(a)
    assert (r.sent, r.retrying) == (0, 6)
    assert messages(a)[0].error == (f"127.0.0.1:{server.port} does not offer STARTTLS; set "
                                    "WIJKFLOW_SMTP_SECURITY to ssl or none")


@pytest.fixture
def tls_cert(tmp_path, monkeypatch):
    """A self-signed certificate for 127.0.0.1 that this test's TLS client trusts."""
    import shutil

    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # what ssl.create_default_context() trusts
    return cert, key


@pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")  # inside aiosmtpd's own AUTH code
@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_and_login_with_the_password_from_a_file(security, tls_cert, due, db_url, clock, tmp_path):
    import ssl

    from aiosmtpd.smtp import AuthResult

    cert, key = tls_cert
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(str(cert), str(key))
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=(auth_data.login, auth_data.password) == (b"wijkflow", b"geheim"), handled=False)

    # aiosmtpd only counts STARTTLS as TLS for AUTH; on an implicit-TLS port the wire is encrypted anyway.
    options = ({"tls_context": server_ctx, "require_starttls": True, "auth_require_tls": True}
               if security == "starttls" else {"ssl_context": server_ctx, "auth_require_tls": False})
    secret = tmp_path / "smtp-password"
    secret.write_text("geheim\n")
    with Server(authenticator=authenticator, **options) as s:
        a = smtp_app(db_url, clock, s.port, smtp_security=security, smtp_user="wijkflow",
                     smtp_password_file=str(secret))
        assert sweep(a).sent == 6 and len(s.messages) == 6
    assert logins == [(b"wijkflow", b"geheim")]  # one connection, one login, for the whole sweep
    secret.write_text("fout\n")
    with Server(authenticator=authenticator, **options) as s:
        services.set_deadline(a, "wijkaanpak-berflo-es", "monitoringsrapportage", "2026-03-03", acting=PL)
        a = smtp_app(db_url, clock, s.port, smtp_security=security, smtp_user="wijkflow",
                     smtp_password_file=str(secret))
        r = sweep(a)
        assert r.sent == 0 and r.retrying == 2
        error = next(m.error for m in messages(a) if m.status == "pending")
        assert error.startswith("the SMTP server refused the login for wijkflow (535")
        assert "fout" not in error
