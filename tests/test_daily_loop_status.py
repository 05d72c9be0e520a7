"""Closed is closed; stopping (stopzetten), suspending (opschorten), resuming and reopening.

Each refusal is one sentence, the documented exit code, and nothing written.
"""

from __future__ import annotations

import sqlalchemy as sa
from conftest import ADMIN, PL, SG1, WR

from wijkflow import services
from wijkflow.services import audit as audit_service

REF = "wijkaanpak-noord"
PATH = ("design", "execute", "monitor", "evaluate", "closed")


def close(app, ref=REF):
    for _ in PATH:
        services.advance(app, ref, acting=ADMIN, override=True, reason="test")


def latest_phase_event(app, aanpak_id):
    with app.db.read() as conn:
        return conn.execute(sa.text("SELECT to_phase FROM audit_event WHERE aanpak_id=:a AND to_phase IS NOT NULL "
                                    "ORDER BY id DESC LIMIT 1"), {"a": aanpak_id}).scalar_one()


WRITES = [
    ("measure", REF, "bewoners", "41"),
    ("deadline", REF, "coalitie", "2027-01-01"),
    ("indicator", "add", REF, "veilig", "--label", "Veiligheid"),
    ("assign", REF, WR, "--role", "approver"),
    ("interpret", REF, "--conclusion", "Gaat goed"),
    ("theme", "add", REF, "Wonen"),
    ("complete", REF, "coalitie", "--evidence", "x.pdf"),
    ("approve", REF, "lokaal_contract_akkoord"),
    ("advance", REF),
    ("suspend", REF, "--reason", "pauze"),
    ("stop", REF, "--reason", "raad"),
]


def test_a_closed_aanpak_refuses_every_write(app, aanpak, run, db_state):
    services.add_indicator(app, REF, "bewoners", label="Actieve bewoners", baseline=40, acting=WR)
    close(app)
    before = db_state()
    for args in WRITES:
        r = run(*args, user=PL)
        assert r.exit_code == 2, (args, r.stderr)
        assert r.stderr.startswith("Error: Wijkaanpak Noord is closed (Afgesloten) and accepts no changes"), args
        assert r.stderr.count("\n") == 1
    assert db_state() == before


def test_stop_from_any_phase_then_every_write_is_refused(app, aanpak, run, db_state, clock):
    services.add_indicator(app, REF, "bewoners", label="Actieve bewoners", baseline=40, acting=WR)
    services.set_deadline(app, REF, "coalitie", "2026-06-01", acting=PL)
    r = run("stop", REF, "--reason", "Besluit gemeenteraad 12 maart", user=PL)
    assert r.exit_code == 0, r.stderr
    assert "is stopped (Stopgezet) in phase Initiëren" in r.stdout
    shown = services.show_aanpak(app, REF)
    assert (shown["status"], shown["status_label"], shown["phase"]) == ("stopped", "Stopgezet", "initiate")
    assert "Status: Stopgezet [stopped]" in run("show", REF).stdout
    with app.db.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM reminder WHERE status='pending'")).scalar() == 0
    before = db_state()
    for args in WRITES:
        r = run(*args, user=PL)
        assert r.exit_code == 2 and "is stopped (Stopgezet) and accepts no changes" in r.stderr, (args, r.stderr)
    assert db_state() == before
    # The phase is still the latest phase-setting event's destination; the chain verifies.
    assert latest_phase_event(app, shown["id"]) == "initiate"
    assert audit_service.verify(app)["checked"] > 0
    events = [e["type"] for e in services.history(app, REF)]
    assert events[-1] == "aanpak_stopped"


def test_stop_needs_a_reason_and_the_right_person(app, aanpak, run, db_state):
    before = db_state()
    r = run("stop", REF, user=PL)
    assert (r.exit_code, r.stderr) == (2, "Error: Stopping needs a --reason: it is recorded in the history.\n")
    r = run("stop", REF, "--reason", "  ", user=PL)
    assert r.exit_code == 2
    r = run("stop", REF, "--reason", "waarom", user=WR)
    assert r.exit_code == 5 and "projectleider" in r.stderr
    assert db_state() == before
    assert run("stop", REF, "--reason", "raad", user=ADMIN).exit_code == 0


def test_suspend_pauses_reminders_and_resume_lets_them_go(app, aanpak, run, db_state, clock):
    services.set_deadline(app, REF, "coalitie", "2026-03-20", acting=PL)
    r = run("suspend", REF, "--reason", "Wachten op de begroting", user=PL)
    assert r.exit_code == 0, r.stderr
    assert services.show_aanpak(app, REF)["status"] == "suspended"
    # Work may still be recorded while suspended.
    assert run("complete", REF, "analyse_visie", "--evidence", "a.pdf", user=PL).exit_code == 0
    clock.forward(40)
    r = run("reminders", "send")
    assert r.exit_code == 0, r.stderr
    with app.db.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM reminder WHERE status='queued'")).scalar() == 0
    before = db_state()
    r = run("suspend", REF, "--reason", "nog eens", user=PL)
    assert (r.exit_code, r.stderr.count("\n")) == (2, 1) and "already suspended" in r.stderr
    assert db_state() == before
    assert run("resume", REF, user=PL).exit_code == 0
    run("reminders", "send")
    with app.db.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM reminder WHERE status='queued'")).scalar() > 0


def test_resume_of_an_aanpak_that_is_not_suspended_is_refused(app, aanpak, run, db_state):
    before = db_state()
    r = run("resume", REF, user=PL)
    assert (r.exit_code, r.stderr) == (2, "Error: Wijkaanpak Noord is not suspended, so there is nothing to resume.\n")
    assert db_state() == before


def test_reopen_a_closed_aanpak_goes_back_to_the_phase_it_left(app, aanpak, run, db_state, clock):
    close(app)
    aanpak_id = services.show_aanpak(app, REF)["id"]
    before = db_state()
    r = run("reopen", REF, "--reason", "Eindrapport onvolledig", user=PL)
    assert r.exit_code == 5 and "administrator" in r.stderr
    r = run("reopen", REF, user=ADMIN)
    assert r.exit_code == 2 and "--reason" in r.stderr
    assert db_state() == before
    clock.forward(1)
    r = run("reopen", REF, "--reason", "Eindrapport onvolledig", user=ADMIN)
    assert r.exit_code == 0, r.stderr
    shown = services.show_aanpak(app, REF)
    assert (shown["phase"], shown["status"], shown["days_in_phase"]) == ("evaluate", "active", 0)
    assert latest_phase_event(app, aanpak_id) == "evaluate"
    # Writable again, and the gate out of evaluate counts from this visit.
    assert run("deadline", REF, "eindevaluatie", "2027-01-01", user=PL).exit_code in (0, 4)
    r = run("reopen", REF, "--reason", "nog eens", user=ADMIN)
    assert r.exit_code == 2 and "neither closed nor stopped" in r.stderr
    assert audit_service.verify(app)["checked"] > 0
    history = run("history", REF).stdout
    assert "reopened" in history


def test_reopen_a_stopped_aanpak_keeps_its_phase(app, aanpak, run, clock):
    services.advance(app, REF, acting=ADMIN, override=True, reason="test")
    run("stop", REF, "--reason", "raad", user=PL)
    clock.forward(1)
    r = run("reopen", REF, "--reason", "Besluit herzien", user=ADMIN)
    assert r.exit_code == 0, r.stderr
    shown = services.show_aanpak(app, REF)
    assert (shown["phase"], shown["status"]) == ("design", "active")
    assert run("complete", REF, "analyse_visie", "--evidence", "a.pdf", user=PL).exit_code in (0, 2)


def test_show_as_of_replays_the_status(app, aanpak, run, clock):
    clock.forward(1)
    run("suspend", REF, "--reason", "pauze", user=PL)
    day_suspended = clock.now.date().isoformat()
    clock.forward(2)
    run("resume", REF, user=PL)
    clock.forward(2)
    run("stop", REF, "--reason", "raad", user=SG1)  # not the projectleider: refused
    run("stop", REF, "--reason", "raad", user=PL)
    from wijkflow.services.asof import show_as_of

    assert show_as_of(app, REF, day_suspended)["status"] == "suspended"
    assert show_as_of(app, REF, clock.now.date().isoformat())["status"] == "stopped"
