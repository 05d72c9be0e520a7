"""The reminder commands as a user runs them: mail preview/test, scheduler run, help."""

from __future__ import annotations

import email
import os
import signal
import subprocess
import time
from email import policy

import pytest
from conftest import ADMIN, PL, SG2, WR, wijkflow_command
from smtp_server import Server, free_port

from wijkflow import services


@pytest.mark.parametrize("args", [["reminders"], ["reminders", "list"], ["reminders", "send"], ["scheduler", "run"],
                                  ["mail"], ["mail", "preview"], ["mail", "test"]])
def test_every_reminder_command_has_help(run, args):
    r = run(*args, "--help")
    assert r.exit_code == 0 and "Usage: " in r.stdout


@pytest.mark.parametrize("rule", ["voortgang_uitvoering", "monitoringsrapportage", "metingen_vastleggen",
                                  "deadline_nadert", "fase_stagneert"])
@pytest.mark.parametrize("to, opening", [(WR, "Beste Erna Biezenaar,"), (SG2, "Dear Jennifer Havinga,")])
def test_mail_preview_renders_every_rule_in_dutch_and_english(run, app, aanpak, rule, to, opening):
    services.set_deadline(app, aanpak, "coalitie", "2026-03-31", acting=PL)
    r = run("mail", "preview", aanpak, rule, "--to", to)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith(f"To: {to} (")
    assert opening in r.stdout
    html = run("mail", "preview", aanpak, rule, "--to", to, "--part", "html")
    assert "<!DOCTYPE html>" in html.stdout


def test_mail_preview_unknown_rule_is_not_found(run, aanpak):
    r = run("mail", "preview", aanpak, "bestaat_niet")
    assert r.exit_code == 4
    assert r.stderr == ("Error: Workflow wijkaanpak v2 has no reminder rule 'bestaat_niet' (rules: "
                        "voortgang_uitvoering, monitoringsrapportage, metingen_vastleggen, deadline_nadert, "
                        "fase_stagneert, wacht_op_goedkeuring, klaar_voor_volgende_fase, fase_gewijzigd, "
                        "poort_doorbroken, goedkeuring_ingetrokken).\n")


def test_mail_test_through_a_real_smtp_server_and_to_the_outbox(run, people, tmp_path):
    with Server() as s:
        env = {"WIJKFLOW_SMTP_HOST": "127.0.0.1", "WIJKFLOW_SMTP_PORT": str(s.port), "WIJKFLOW_SMTP_SECURITY": "none"}
        r = run("mail", "test", "erna@hengelo.example", env=env, user=ADMIN)
        assert r.exit_code == 0, r.stderr
        assert r.stdout.startswith(f"Sent a test message to erna@hengelo.example via SMTP 127.0.0.1:{s.port} (none)")
        assert s.messages[0]["Subject"] == "wijkflow testbericht"
    r = run("mail", "test", "erna@hengelo.example", user=ADMIN)
    assert r.exit_code == 0
    (eml,) = (tmp_path / "outbox").glob("*.eml")
    assert email.message_from_bytes(eml.read_bytes(), policy=policy.default)["To"] == "erna@hengelo.example"


def test_mail_test_refuses_a_bad_address_and_reports_a_dead_server(run, people):
    bad = run("mail", "test", "erna at hengelo", user=ADMIN)
    assert (bad.exit_code, bad.stderr) == (2, "Error: 'erna at hengelo' is not an email address.\n")
    port = free_port()
    down = run("mail", "test", "erna@hengelo.example", user=ADMIN,
               env={"WIJKFLOW_SMTP_HOST": "127.0.0.1", "WIJKFLOW_SMTP_PORT": str(port),
                    "WIJKFLOW_SMTP_SECURITY": "none"})
    assert down.exit_code == 1
    assert down.stderr == f"Error: cannot connect to the SMTP server at 127.0.0.1:{port} (connection refused)\n"


def test_scheduler_run_sends_what_is_due_and_stops_cleanly_on_sigterm(app, people, db_url, tmp_path, clock):
    services.create_aanpak(app, "Wijkaanpak Berflo Es", wijk="Berflo Es", leader=PL, coordinators=(WR,),
                           acting=PL, phase="monitor", since="2025-07-01")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("WIJKFLOW_")},
           "WIJKFLOW_DATABASE_URL": db_url, "WIJKFLOW_OUTBOX_DIR": str(tmp_path / "outbox"),
           "WIJKFLOW_NOW": clock.iso}
    proc = subprocess.Popen([*wijkflow_command(), "scheduler", "run", "--interval", "0.5"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while len(list((tmp_path / "outbox").glob("*.eml"))) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.6)  # at least one more sweep: it must send nothing again
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 4
    assert "sweep: 4 sent, 0 to retry, 0 failed, 0 cancelled" in err
    assert err.count("sent,") == 1
    assert "received SIGTERM; stopping after the messages in hand (at most one batch)" in err
    assert err.rstrip().endswith("wijkflow scheduler stopped")


def test_mail_preview_of_a_deadline_rule_without_deadline_says_how_to_set_one(run, aanpak):
    r = run("mail", "preview", aanpak, "deadline_nadert")
    assert r.exit_code == 2
    assert r.stderr == ("Error: Reminder 'deadline_nadert' is about deadlines and Wijkaanpak Noord has none yet; "
                        "set one with `wijkflow deadline wijkaanpak-noord CRITERION DATE`.\n")


def test_reminders_list_as_csv(run, app, aanpak):
    r = run("reminders", "list", "--format", "csv")
    assert r.exit_code == 0
    header, row = r.stdout.splitlines()[:2]
    assert header.startswith("reminder,message,aanpak,rule,kind,criterion,due,to,role,status")
    assert ",wijkaanpak-noord,fase_stagneert,stalled,," in row and ",pending," in row


def test_scheduler_wakes_up_when_something_falls_due_between_sweeps(db_url, tmp_path):
    """With a sweep only every 60 s, a reminder due 2 s from now still goes out within seconds."""
    from datetime import UTC, datetime, timedelta

    import sqlalchemy as sa

    from wijkflow.app import App

    real = App.open(db_url, outbox_dir=str(tmp_path / "outbox"))  # the real clock
    real.db.init()
    services.add_person(real, PL, name="Fleur Mensink")
    services.create_aanpak(real, "Wijkaanpak Noord", wijk="Noord", leader=PL, acting=PL)
    soon = datetime.now(UTC) + timedelta(seconds=2)
    with real.db.write() as conn:  # the stalled escalation, a year away, made due in two seconds
        conn.execute(sa.text("UPDATE reminder SET due_at = :d"), {"d": soon.replace(tzinfo=None).isoformat(" ")})
    real.close()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("WIJKFLOW_")},
           "WIJKFLOW_DATABASE_URL": db_url, "WIJKFLOW_OUTBOX_DIR": str(tmp_path / "outbox")}
    proc = subprocess.Popen([*wijkflow_command(), "scheduler", "run", "--interval", "60"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        while not list((tmp_path / "outbox").glob("*.eml")) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
    assert "sweep: 1 sent" in err and "received SIGINT" in err
