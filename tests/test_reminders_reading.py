"""Reminders that read well: catch-up after downtime, previews, digests, and the rules every definition ships.

Against a real SMTP server (aiosmtpd on 127.0.0.1) where a message is sent.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import MINIMAL, PL, SG1, SG2, WR
from smtp_server import smtp_app

from wijkflow import services
from wijkflow.definitions import load_file, shipped_dir, warnings
from wijkflow.reminders.sweep import sweep
from wijkflow.services.reminders import list_reminders


def to(msg) -> str:
    return msg["To"].addresses[0].addr_spec


def text(msg) -> str:
    return msg.get_body(("plain",)).get_content()


# --- the rules every shipped definition has ---------------------------------------------


@pytest.mark.parametrize("name", ["wijkaanpak", "wijkprogramma", "wijkontwikkelingsplan", "gebiedsgericht"])
def test_every_shipped_definition_reminds_of_deadlines_stalls_and_its_own_rhythm(name):
    d = load_file(shipped_dir() / f"{name}.yaml")
    kinds = {r.kind for r in d.reminders}
    assert {"before", "stalled"} <= kinds and kinds & {"after", "every"}, kinds
    assert warnings(d) == []
    # A phase-bound reminder says what is asked of the reader, in both languages.
    for r in d.reminders:
        if r.kind in ("after", "every"):
            assert r.ask_for("nl") and r.ask_for("en") and r.ask_for("nl") != r.ask_for("en")


def test_validate_warns_when_deadlines_would_remind_nobody(run, tmp_path: Path):
    path = tmp_path / "mini.yaml"
    path.write_text(MINIMAL)
    r = run("workflows", "validate", str(path))
    assert r.exit_code == 0
    assert f"{path}: warning: mini v1 has no reminder rule with 'before:'" in r.stderr
    assert "valid (mini v1" in r.stdout
    shipped = run("workflows", "validate", str(shipped_dir() / "wijkprogramma.yaml"))
    assert shipped.exit_code == 0 and shipped.stderr == ""


# --- catch-up after downtime ------------------------------------------------------------


def test_after_downtime_a_passed_deadline_is_not_announced_as_approaching(server, app, aanpak, db_url, clock):
    services.set_deadline(app, aanpak, "lokaal_contract", "2026-03-20", acting=PL)
    clock.forward(60)  # nobody swept for two months: the before and the overdue one are both due
    r = sweep(smtp_app(db_url, clock, server.port))
    subjects = sorted((to(m), m["Subject"]) for m in server.messages)
    assert subjects == [(WR, "Deadline verstreken: Lokaal contract opgesteld (Noord)"),
                        (PL, "Deadline verstreken: Lokaal contract opgesteld (Noord)")]
    assert r.cancelled >= 1
    with app.db.read() as conn:
        reason = conn.execute(sa.text("SELECT reason FROM reminder WHERE kind = 'before'")).scalar()
    assert reason == "the deadline 2026-03-20 has passed; the overdue reminder goes instead"
    body = text(server.messages[0])
    assert "was 20 maart 2026 en is verstreken (42 dagen geleden)" in body and "nadert" not in body


# --- mail preview outside the due moment -------------------------------------------------


def test_preview_of_a_passed_deadline_never_says_in_minus_days(run, app, aanpak, clock):
    services.set_deadline(app, aanpak, "lokaal_contract", "2026-02-27", acting=PL)
    for who in (PL, SG2):
        r = run("mail", "preview", aanpak, "deadline_nadert", "--to", who)
        assert r.exit_code == 0, r.stderr
        assert not re.search(r"(in|over) -\d", r.stdout), r.stdout
    nl = run("mail", "preview", aanpak, "deadline_nadert", "--to", PL).stdout
    assert "Subject: Deadline verstreken: Lokaal contract opgesteld (Noord)" in nl
    assert "was 27 februari 2026 en is verstreken (3 dagen geleden)" in nl
    # No calendar entry is promised for a date that has passed.
    assert "deadline.ics" not in nl


def test_preview_of_a_phase_that_has_not_stalled_does_not_say_it_has(run, aanpak):
    r = run("mail", "preview", aanpak, "fase_stagneert", "--to", SG1)
    assert r.exit_code == 0, r.stderr
    assert "langer dan" not in r.stdout
    assert "(0 dagen); voor deze fase staat 365 dagen. Dit bericht gaat pas uit als die termijn voorbij is." \
        in r.stdout


def test_preview_tells_each_reader_only_what_their_role_may_run(run, app, aanpak):
    services.set_deadline(app, aanpak, "coalitie", "2026-03-20", acting=PL)
    coordinator = run("mail", "preview", aanpak, "deadline_nadert", "--to", WR).stdout
    leader = run("mail", "preview", aanpak, "deadline_nadert", "--to", PL).stdout
    approver = run("mail", "preview", aanpak, "fase_stagneert", "--to", SG1).stdout
    assert "Afronden met:\n  wijkflow complete wijkaanpak-noord coalitie" in leader
    assert "wijkflow complete" not in coordinator and "wijkflow approve" not in coordinator
    assert "Wat u als wijkregisseur / coördinator in wijkflow kunt doen:\n  wijkflow gate wijkaanpak-noord" \
        in coordinator
    assert "wijkflow approve wijkaanpak-noord lokaal_contract_akkoord" in approver
    assert "wijkflow complete" not in approver
    # The Dutch reason of each open criterion, roles by their label; the gate heading says its phase once.
    assert "Naar ontwerpen (naar Ontwerpen)" not in leader and "  Naar ontwerpen:\n" in leader
    assert "    - Coalitie en bestuurlijke alliantie: nog niet opgeleverd\n" in leader
    assert "nog niet goedgekeurd (door iemand met de rol lid van de stuurgroep)" in leader
    bodies = [out.split("\n", 1)[1] for out in (leader, coordinator, approver)]  # after the CLI's "To:" line
    assert not any("approver" in body for body in bodies)


# --- the digest ---------------------------------------------------------------------------


def test_digest_keeps_each_due_date_and_deadline_with_one_calendar(server, app, aanpak, db_url, clock):
    services.set_deadline(app, aanpak, "lokaal_contract", "2026-03-09", acting=PL)
    services.set_deadline(app, aanpak, "coalitie", "2026-03-06", acting=PL)
    other = services.create_aanpak(app, "Wijkaanpak Zuid", wijk="Zuid", gemeente="Hengelo", leader=PL,
                                   coordinators=(WR,), approvers=(SG1,), acting=PL, phase="monitor",
                                   since="2025-07-01")["slug"]
    assert other
    sweep(smtp_app(db_url, clock, server.port, mail_digest="true"))
    fleur = next(m for m in server.messages if to(m) == PL)
    body = text(fleur)
    assert "== Wijkaanpak Noord (wijk Noord), fase Initiëren ==" in body
    assert "== Wijkaanpak Zuid (wijk Zuid), fase Monitoren / toetsen en bijsturen ==" in body
    assert "Deadline: 9 maart 2026." in body and "Deadline: 6 maart 2026." in body
    n = int(fleur["Subject"].split()[0])
    assert body.count("Gepland voor ") == n and n >= 3
    (ics,) = [p for p in fleur.iter_attachments() if p.get_content_type() == "text/calendar"]
    cal = ics.get_content()
    assert cal.count("BEGIN:VEVENT") == 2
    assert "UID:deadline.1.lokaal_contract@hengelo.example" in cal and "UID:deadline.1.coalitie@hengelo.example" in cal
    assert re.fullmatch(r"<digest\.\d+\.\d+@hengelo\.example>", fleur["Message-ID"])


def test_a_digest_resent_after_a_crash_keeps_its_message_id_whatever_else_fell_due(server, app, aanpak, db_url,
                                                                                   clock):
    services.set_deadline(app, aanpak, "lokaal_contract", "2026-03-09", acting=PL)
    services.set_deadline(app, aanpak, "coalitie", "2026-03-06", acting=PL)
    digest_app = smtp_app(db_url, clock, server.port, mail_digest="true")
    # A crash between the server accepting the digest and the database recording it ...
    from wijkflow.reminders import sweep as sweep_mod

    real_record = sweep_mod.record

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    sweep_mod.record = crash
    try:
        with pytest.raises(KeyboardInterrupt):
            sweep(digest_app)
    finally:
        sweep_mod.record = real_record
    first = next(m for m in server.messages if to(m) == PL)
    # ... and meanwhile something else falls due for the same person.
    services.set_deadline(app, aanpak, "analyse_visie", "2026-03-09", acting=PL)
    clock.forward(minutes=10)  # past the lease (300 s)
    sweep(smtp_app(db_url, clock, server.port, mail_digest="true"))
    again = [m for m in server.messages[1:] if to(m) == PL and m["Message-ID"] == first["Message-ID"]]
    assert len(again) == 1 and again[0]["Subject"] == first["Subject"]
    later = [m for m in server.messages if to(m) == PL and m["Message-ID"] != first["Message-ID"]]
    assert len(later) == 1 and "Deadline nadert: Van analyse naar visie (Noord)" in later[0]["Subject"]
    assert "Deadline nadert: Van analyse naar visie" not in text(first)


# --- failed messages go out again once the cause is fixed -------------------------------------


def test_failed_messages_are_put_back_by_an_administrator_and_keep_their_message_id(
        server, app, aanpak, db_url, clock, run, db_state):
    services.set_deadline(app, aanpak, "lokaal_contract", "2026-03-09", acting=PL)
    server.handler.refuse[WR] = "550 5.1.1 mailbox unavailable"
    smtp = smtp_app(db_url, clock, server.port)
    assert sweep(smtp).failed == 1
    listed = run("reminders", "list", "--failed")
    assert "550 5.1.1 mailbox unavailable" in listed.stdout
    assert "wijkflow --as ADMIN-EMAIL reminders retry --failed" in listed.stdout
    msg = next(r["message"] for r in list_reminders(app, failed=True))
    before = db_state()
    # Bad input changes nothing: nothing named, an unknown or unfailed message, not an administrator.
    assert run("reminders", "retry", user="admin@hengelo.example").exit_code == 2
    unknown = run("reminders", "retry", str(msg), "999", user="admin@hengelo.example")
    assert unknown.exit_code == 4 and unknown.stderr == (
        "Error: Message 999 is not a failed message; `wijkflow reminders list --failed` shows those that are.\n")
    assert run("reminders", "retry", "--failed", user=PL).exit_code == 5
    assert db_state() == before
    server.handler.refuse.clear()  # the mailbox exists again
    r = run("reminders", "retry", str(msg), user="admin@hengelo.example")
    assert r.exit_code == 0 and r.stdout.startswith("Put 1 failed message(s) back in the outbox")
    assert sweep(smtp).sent == 1
    (erna,) = [m for m in server.messages if to(m) == WR]
    with app.db.read() as conn:
        row = conn.execute(sa.text("SELECT message_id, status FROM reminder_message WHERE id = :i"), {"i": msg}).one()
        event = conn.execute(sa.text("SELECT actor_id, payload FROM audit_event WHERE type = 'reminder_requeued'"))\
            .one()
    assert row.status == "sent" and erna["Message-ID"] == row.message_id
    assert f'"message":{msg}' in event.payload and WR not in event.payload and event.actor_id == 1
    history = run("history", aanpak).stdout
    assert "failed reminder requeued: deadline_nadert" in history


def test_readme_lists_every_shipped_rule():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Shipped rules"):readme.index("### Sending")]
    for name in ("wijkaanpak", "wijkprogramma", "wijkontwikkelingsplan", "gebiedsgericht"):
        for rule in load_file(shipped_dir() / f"{name}.yaml").reminders:
            assert f"`{rule.key}`" in section, f"README's reminders section does not list {name}'s {rule.key}"


def test_a_met_deadline_is_withdrawn_from_the_calendars_it_was_sent_to(server, app, aanpak, db_url, clock):
    services.set_deadline(app, aanpak, "lokaal_contract", "2026-03-09", acting=PL)
    smtp = smtp_app(db_url, clock, server.port)
    sweep(smtp)  # "nadert", with the calendar entry
    services.set_deadline(app, aanpak, "coalitie", "2026-04-30", acting=PL)  # no entry sent yet for this one
    services.complete(app, aanpak, "coalitie", evidence="convenant.pdf", acting=PL)
    services.complete(app, aanpak, "lokaal_contract", evidence="contract.pdf", acting=PL)
    start = len(server.messages)
    sweep(smtp)
    withdrawn = [m for m in server.messages[start:] if "Deadline" in m["Subject"]]
    assert sorted((to(m), m["Subject"]) for m in withdrawn) == [
        (WR, "Deadline vervalt, vervuld: Lokaal contract opgesteld (Noord)"),
        (PL, "Deadline vervalt, vervuld: Lokaal contract opgesteld (Noord)")]
    (ics,) = [p for p in withdrawn[0].iter_attachments() if p.get_content_type() == "text/calendar"]
    assert ics.get_param("method") == "CANCEL"
    body = ics.get_content()
    assert "METHOD:CANCEL" in body and "STATUS:CANCELLED" in body and "SEQUENCE:1" in body
    assert "UID:deadline.1.lokaal_contract@hengelo.example" in body
    assert "uit uw agenda gehaald" in text(withdrawn[0])
    before = len(server.messages)
    services.add_indicator(app, aanpak, "bewoners", label="Actieve bewoners", baseline=40, acting=WR)
    sweep(smtp)
    assert not [m for m in server.messages[before:] if "Deadline" in m["Subject"]]  # withdrawn once
