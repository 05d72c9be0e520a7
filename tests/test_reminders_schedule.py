"""Reminder rules and occurrences: working days, scheduling in the same transaction, catch-up."""

from __future__ import annotations

import email
from datetime import UTC, date, datetime
from email import policy

import pytest
import sqlalchemy as sa
from conftest import PL, SG1, SG2, WR

from wijkflow import services, store
from wijkflow.app import App
from wijkflow.config import load_settings
from wijkflow.definitions import load_text, shipped_dir
from wijkflow.errors import DefinitionError
from wijkflow.models import REMINDER
from wijkflow.reminders.calendar import Span, WorkCalendar
from wijkflow.reminders.mailers import MemoryMailer
from wijkflow.reminders.sweep import sweep


def reminders(app: App) -> list[sa.Row]:
    """Every occurrence, times as aware UTC datetimes on either engine."""
    with app.db.read() as conn:
        return list(conn.execute(sa.select(REMINDER).order_by(REMINDER.c.id)))


def cal(**kw) -> WorkCalendar:
    return WorkCalendar.from_settings(load_settings(flags=kw, env={}))


# --- working days --------------------------------------------------------------------------


def test_working_days_skip_weekends_dutch_holidays_and_closing_days():
    c = cal(closing_days="2026-04-28")
    # Thu 2 April 2026 + 3 werkdagen: Goede Vrijdag 3/4, weekend, Tweede paasdag 6/4 skipped -> 7, 8, 9 April.
    assert c.add(date(2026, 4, 2), Span.parse("3 werkdagen")) == date(2026, 4, 9)
    # 5 werkdagen before Thursday 30 April: 29; 28 a closing day, 27 Koningsdag, weekend; 24, 23, 22, 21.
    assert c.add(date(2026, 4, 30), Span.parse("5 werkdagen"), sign=-1) == date(2026, 4, 21)
    assert not c.is_working_day(date(2026, 5, 14))  # Hemelvaartsdag
    assert c.holiday_name(date(2026, 12, 25)) == "Eerste kerstdag"


def test_calendar_months_clip_to_the_last_day_and_due_time_is_nine_in_amsterdam_across_dst():
    c = cal()
    assert c.add(date(2026, 1, 31), Span.parse("P1M")) == date(2026, 2, 28)
    assert c.add(date(2026, 1, 31), Span.parse("P3M")) == date(2026, 4, 30)
    # Winter: 09:00 CET is 08:00 UTC; summer: 09:00 CEST is 07:00 UTC.
    assert c.due_at(date(2026, 3, 27)) == datetime(2026, 3, 27, 8, 0, tzinfo=UTC)
    assert c.due_at(date(2026, 3, 30)) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    # Saturday 28 March moves to Monday 30 March, after the DST switch.
    assert c.due_at(date(2026, 3, 28)) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    assert cal(reminder_shift="none").due_at(date(2026, 3, 28)) == datetime(2026, 3, 28, 8, 0, tzinfo=UTC)


# --- definitions ---------------------------------------------------------------------------


def _with_reminder(block: str) -> str:
    base = (shipped_dir() / "wijkaanpak.yaml").read_text(encoding="utf-8")
    head = base.split("\nreminders:\n")[0]
    return head + "\nreminders:\n" + block


@pytest.mark.parametrize("block, message", [
    ("  - key: x\n    phase: execute\n    every: P3X\n    to: [coordinator]\n    template: herinnering\n"
     "    subject: s\n", "(reminders[0].every): 'P3X' is not a duration"),
    ("  - key: x\n    phase: execute\n    after: {werkdagen: 0}\n    to: [coordinator]\n    template: herinnering\n"
     "    subject: s\n", "(reminders[0].after): werkdagen must be a whole number of at least 1"),
    ("  - key: x\n    phase: nergens\n    after: P1D\n    to: [coordinator]\n    template: herinnering\n"
     "    subject: s\n", "(reminders[0].phase): unknown phase 'nergens' in a reminder"),
    ("  - key: x\n    phase: execute\n    after: P1D\n    every: P1M\n    to: [coordinator]\n"
     "    template: herinnering\n    subject: s\n",
     "(reminders[0]): a reminder needs exactly one of on, after, every, before or stalled (it has after, every)"),
    ("  - key: x\n    before: P1W\n    criteria: [geen_criterium]\n    to: [coordinator]\n"
     "    template: deadline\n    subject: s\n", "(reminders[0].criteria[0]): unknown criterion 'geen_criterium'"),
    ("  - key: x\n    every: P1M\n    to: [coordinator]\n    template: herinnering\n    subject: s\n",
     "(reminders[0]): a reminder with 'every' needs a 'phase'"),
])
def test_bad_reminder_rules_name_file_path_and_line(block, message):
    text = _with_reminder(block)
    with pytest.raises(DefinitionError) as err:
        load_text(text, file="wijk.yaml")
    line = text.count("\n", 0, text.index("\nreminders:\n")) + 3
    assert str(err.value).startswith(f"wijk.yaml, line {line}") or str(err.value).startswith("wijk.yaml, line")
    assert message in str(err.value)


def test_every_shipped_rule_has_dutch_and_english_templates():
    from wijkflow.reminders.render import notifications_dir

    for path in shipped_dir().glob("*.yaml"):
        for rule in load_text(path.read_text(encoding="utf-8"), file=str(path)).reminders:
            for ext in ("txt", "html"):
                for locale in ("nl", "en"):
                    assert (notifications_dir() / f"{rule.template}.{locale}.{ext}").is_file(), (rule.key, locale)


# --- occurrences in step with the aanpak -------------------------------------------------------


def _to_execute(app: App, ref: str, clock) -> None:
    for key in ("coalitie", "analyse_visie", "lokaal_contract", "instrumenten_financiering"):
        services.complete(app, ref, key, evidence="doc.pdf", acting=PL)
    services.approve(app, ref, "lokaal_contract_akkoord", acting=SG1)
    services.advance(app, ref, acting=PL)
    for key in ("uitvoeringsprogramma", "organisatiestructuur", "participatiestructuur", "teams", "monitoringplan"):
        services.complete(app, ref, key, evidence="doc.pdf", acting=PL)
    services.add_indicator(app, ref, "veiligheid", label="Veiligheid", baseline=5.9, target=7, acting=PL)
    services.approve(app, ref, "programma_akkoord", acting=SG2)
    clock.forward(1)
    services.advance(app, ref, acting=PL)


def test_entering_a_phase_schedules_and_leaving_cancels_with_the_reason(app, aanpak, clock):
    # Initiëren has only the stalled escalation: 365 days after Monday 2 March 2026 = 2 March 2027.
    (stalled,) = reminders(app)
    assert (stalled.rule, stalled.kind, stalled.status) == ("fase_stagneert", "stalled", "pending")
    _to_execute(app, aanpak, clock)
    rows = {(r.rule, r.phase, r.status) for r in reminders(app)}
    assert ("fase_stagneert", "initiate", "cancelled") in rows
    assert ("fase_stagneert", "design", "cancelled") in rows
    assert ("voortgang_uitvoering", "execute", "pending") in rows
    cancelled = [r for r in reminders(app) if r.status == "cancelled"]
    assert cancelled[0].reason == "left phase initiate for design on 2026-03-02"
    every = next(r for r in reminders(app) if r.rule == "voortgang_uitvoering")
    # Entered execute on Tue 3 March 2026 -> P3M = Wed 3 June 2026 09:00 CEST.
    assert every.due_at == datetime(2026, 6, 3, 7, 0, tzinfo=UTC)


def test_a_new_deadline_reschedules_and_the_old_one_is_cancelled_not_deleted(app, aanpak, clock):
    services.set_deadline(app, aanpak, "lokaal_contract", "2026-04-30", acting=PL)
    before = [r for r in reminders(app) if r.criterion == "lokaal_contract"]
    assert {(r.kind, r.due_at.strftime("%Y-%m-%d %H:%M")) for r in before} == {
        ("before", "2026-04-22 07:00"),   # 5 werkdagen before, skipping Koningsdag 27 April
        ("overdue", "2026-05-01 07:00")}  # the day after the deadline
    services.set_deadline(app, aanpak, "lokaal_contract", "2026-06-30", acting=PL)
    rows = [r for r in reminders(app) if r.criterion == "lokaal_contract"]
    assert sorted((r.kind, r.status, r.reason) for r in rows if r.status == "cancelled") == [
        ("before", "cancelled", "deadline moved from 2026-04-30 to 2026-06-30"),
        ("overdue", "cancelled", "deadline moved from 2026-04-30 to 2026-06-30")]
    assert len([r for r in rows if r.status == "pending"]) == 2
    # Moving it back schedules again; the cancelled rows stay as history.
    services.set_deadline(app, aanpak, "lokaal_contract", "2026-04-30", acting=PL)
    assert len([r for r in reminders(app) if r.criterion == "lokaal_contract"]) == 6


def test_reminders_roll_back_with_the_phase_change_that_failed(app, aanpak, clock, monkeypatch):
    for key in ("coalitie", "analyse_visie", "lokaal_contract", "instrumenten_financiering"):
        services.complete(app, aanpak, key, evidence="doc.pdf", acting=PL)
    services.approve(app, aanpak, "lokaal_contract_akkoord", acting=SG1)
    before = reminders(app)

    def boom(*a, **kw):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store, "append_event", boom)
    with pytest.raises(RuntimeError):
        services.advance(app, aanpak, acting=PL)
    monkeypatch.undo()
    assert reminders(app) == before
    assert services.show_aanpak(app, aanpak)["phase"] == "initiate"


def test_a_met_criterion_cancels_its_deadline_reminder_at_send_time(app, aanpak, clock):
    services.set_deadline(app, aanpak, "coalitie", "2026-03-20", acting=PL)
    services.complete(app, aanpak, "coalitie", evidence="intentieverklaring.pdf", acting=PL)
    clock.forward(30)
    mailer = MemoryMailer()
    result = sweep(app, mailer=mailer)
    assert mailer.sent == [] and result.cancelled == 2
    assert {r.reason for r in reminders(app) if r.criterion == "coalitie"} == {"'coalitie' is already met"}


def test_the_dry_run_reports_what_the_sweep_then_does_and_writes_nothing(app, aanpak, clock, db_state):
    services.set_deadline(app, aanpak, "coalitie", "2026-03-20", acting=PL)
    services.complete(app, aanpak, "coalitie", evidence="intentieverklaring.pdf", acting=PL)
    clock.forward(30)
    before = db_state()
    dry = sweep(app, dry_run=True)
    assert db_state() == before
    would = [m for m in dry.messages if m["status"] == "would cancel"]
    assert (dry.queued, dry.cancelled) == (0, 2) and {m["error"] for m in would} == {"'coalitie' is already met"}
    real = sweep(app, mailer=MemoryMailer())
    assert (real.queued, real.cancelled) == (dry.queued, dry.cancelled)
    assert sorted((r.id, r.reason) for r in reminders(app) if r.status == "cancelled") == sorted(
        (m["reminder"], m["error"]) for m in would)


# --- catch-up after downtime -------------------------------------------------------------------


@pytest.fixture
def imported(app: App, people) -> str:
    """A programme imported into monitor on 1 July 2025; today is 2 March 2026 (244 days later)."""
    return services.create_aanpak(app, "Wijkaanpak Berflo Es", wijk="Berflo Es", gemeente="Hengelo", leader=PL,
                                  coordinators=(WR,), approvers=(SG1, SG2), acting=PL, phase="monitor",
                                  since="2025-07-01")["slug"]


def test_a_repeating_rule_that_missed_periods_sends_one_catch_up_then_the_next_period(app, imported, clock):
    mailer = MemoryMailer()
    sweep(app, mailer=mailer)
    monthly = [to for to, m in mailer.sent if m["Subject"].startswith("Monitoringsrapportage")]
    assert sorted(monthly) == sorted([PL, WR])  # periods of Oct and Jan missed: one catch-up each
    nxt = next(r for r in reminders(app) if r.rule == "monitoringsrapportage" and r.status == "pending")
    # anchored to 1 July, not to today
    assert (nxt.seq, nxt.due_at.strftime("%Y-%m-%d %H:%M")) == (3, "2026-04-01 07:00")
    mailer.sent.clear()
    clock.forward(31)  # 2 April: the April period is due
    sweep(app, mailer=mailer)
    assert sorted(to for to, _ in mailer.sent) == sorted([PL, WR])


def test_imported_aanpak_coordinator_gets_each_due_reminder_once_in_dutch(run, imported, tmp_path):
    first = run("reminders", "send")
    assert first.exit_code == 0, first.stderr
    outbox = tmp_path / "outbox"
    assert f"Sent 6 message(s) via outbox {outbox}; 0 will be retried, 0 failed, 0 reminder(s) cancelled." \
        in first.stdout
    second = run("reminders", "send")
    assert "Sent 0 message(s)" in second.stdout
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == 6
    msgs = [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in files]
    erna = [m for m in msgs if m["To"].addresses[0].addr_spec == WR]
    assert sorted(m["Subject"] for m in erna) == [
        "Leg de nieuwe metingen vast: Wijkaanpak Berflo Es (Berflo Es)",
        "Monitoringsrapportage gevraagd: Wijkaanpak Berflo Es (Berflo Es)"]
    m = erna[0]
    assert m.get_content_type() == "multipart/alternative"
    text = m.get_body(("plain",)).get_content()
    html = m.get_body(("html",)).get_content()
    assert text.startswith("Beste Erna Biezenaar,")
    assert "staat sinds 1 juli 2025 in de fase Monitoren / toetsen en bijsturen (244 dagen)" in text
    # Only what a coordinator may run: measuring, not completing a deliverable (the projectleider's).
    assert "wijkflow measure wijkaanpak-berflo-es INDICATOR WAARDE" in text
    assert "wijkflow complete" not in text and "wijkflow approve" not in text
    assert "<p>Beste Erna Biezenaar,</p>" in html
    # The English-speaking approver gets English; nobody shares a To line.
    jennifer = next(m for m in msgs if m["To"].addresses[0].addr_spec == SG2)
    assert jennifer["Subject"].startswith("Phase overrunning: Wijkaanpak Berflo Es (Berflo Es) has been in")
    assert all(len(m["To"].addresses) == 1 and m["Cc"] is None for m in msgs)
    listed = run("reminders", "list", "--format", "json")
    assert '"status": "sent"' in listed.stdout


def test_send_dry_run_changes_nothing(run, imported, db_state, tmp_path):
    before = db_state()
    r = run("reminders", "send", "--dry-run")
    assert r.exit_code == 0
    assert r.stdout.startswith("Dry run: 6 message(s) would be sent, 0 reminder(s) cancelled; nothing was changed.")
    assert db_state() == before
    assert not (tmp_path / "outbox").exists()


def test_reminders_list_filters(run, imported, app, clock):
    due = run("reminders", "list", "--due", "--format", "json")
    assert due.exit_code == 0 and due.stdout.count('"status": "pending"') == 3
    until = run("reminders", "list", "--until", "2026-04-01", "--format", "json")
    assert until.stdout.count('"status": "pending"') == 3
    later = run("reminders", "list", "--until", "2026-04-02", "--format", "json")
    assert later.stdout.count('"status": "pending"') == 3
    bad = run("reminders", "list", "--until", "1 april")
    assert (bad.exit_code, bad.stderr) == (2, "Error: '1 april' is not a valid --until date; use YYYY-MM-DD, "
                                              "e.g. 2026-03-01.\n")
    table = run("reminders", "list")
    assert "monitoringsrapportage" in table.stdout and "fase_stagneert" in table.stdout


def test_a_definition_without_reminders_keeps_its_content_hash():
    text = (shipped_dir() / "wijkaanpak.yaml").read_text(encoding="utf-8").split("\nreminders:\n")[0] + "\n"
    d = load_text(text, file="zonder.yaml")
    assert d.reminders == () and '"reminders"' not in d.canonical_json()
    with_rules = load_text((shipped_dir() / "wijkaanpak.yaml").read_text(encoding="utf-8"), file="met.yaml")
    assert with_rules.content_hash() != d.content_hash()
    assert type(d).model_validate_json(with_rules.canonical_json()) == with_rules  # round trip via the db copy
