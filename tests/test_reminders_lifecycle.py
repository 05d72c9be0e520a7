"""Each shipped programme, walked from its first phase to closed with deadlines, sweeping on the way.

Against a real SMTP server (aiosmtpd on 127.0.0.1): at each step the test asserts who received
which message (subject, due date, calendar attachment), as a coordinator would see it in the inbox.
Gates are satisfied by what each criterion kind asks (the walker below), through the services.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from conftest import ADMIN, PL, SG1, SG2, WR

from wijkflow import gates, services, store
from wijkflow.app import App
from wijkflow.definitions import Definition
from wijkflow.reminders.sweep import sweep
from wijkflow.templating import long_date

SG3 = "sanne@nijmegen.example"  # a third signer: each party of a sign-off is a different person
EVERYONE = (PL, WR, SG1, SG2, SG3)
LOCALE = {PL: "nl", WR: "nl", SG1: "nl", SG2: "en", SG3: "nl"}


class Walk:
    """One aanpak on one definition, its inbox, and the moves a programme makes."""

    def __init__(self, app: App, smtp: App, server, clock, workflow: str) -> None:
        self.app, self.smtp, self.server, self.clock = app, smtp, server, clock
        services.add_person(app, SG3, name="Sanne Veiligheid", acting=ADMIN)
        self.slug = services.create_aanpak(app, "Aanpak Oost", wijk="Oost", gemeente="Hengelo", leader=PL,
                                           workflow=workflow, coordinators=(WR,), approvers=(SG1, SG2, SG3),
                                           acting=PL)["slug"]
        with app.db.read() as conn:
            self.d = store.load_aanpak(conn, self.slug, app.definitions).definition
        self.seen = 0
        self.indicator = 0
        self.asked = False  # approvers asked during this gate

    # --- the inbox ---------------------------------------------------------------------

    def sweep(self) -> dict[str, list]:
        """Sweep now; what each person received in this sweep."""
        sweep(self.smtp)
        got: dict[str, list] = defaultdict(list)
        for m in self.server.messages[self.seen:]:
            got[m["To"].addresses[0].addr_spec].append(m)
        self.seen = len(self.server.messages)
        return got

    @staticmethod
    def subjects(got: dict[str, list], who: str) -> list[str]:
        return [m["Subject"] for m in got.get(who, [])]

    def row(self):
        with self.app.db.read() as conn:
            return store.find_aanpak(conn, self.slug)

    def pending(self) -> list:
        with self.app.db.read() as conn:
            return list(conn.execute(sa.text(
                "SELECT r.* FROM reminder r JOIN aanpak a ON a.id = r.aanpak_id WHERE a.slug = :s "
                "AND r.status = 'pending' ORDER BY r.due_at"), {"s": self.slug}).mappings().all())

    def due_of(self, kind: str, rule: str | None = None) -> datetime:
        for r in self.pending():
            if r["kind"] == kind and (rule is None or r["rule"] == rule):
                value = r["due_at"]
                return datetime.fromisoformat(value) if isinstance(value, str) else value
        raise AssertionError(f"no pending {kind} reminder {rule or ''}")

    def at(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if moment > self.clock.now:
            self.clock.now = moment

    # --- meeting a gate ----------------------------------------------------------------

    def open_criteria(self, dest: str) -> list:
        with self.app.db.read() as conn:
            row = store.find_aanpak(conn, self.slug)
            facts = gates.load_facts(conn, row, self.d)
        t = next(t for t in self.d.outgoing(row.phase) if t.dest == dest)
        return [c for c in gates.evaluate(self.d, t, facts, self.clock()).criteria if c.blocking]

    def meet(self, key: str, kind: str) -> None:
        c = self.d.criteria[key]
        a, ref = self.app, self.slug
        if kind == "deliverable":
            services.complete(a, ref, key, evidence=f"{key}-2026.pdf", acting=PL)
        elif kind == "approval":
            services.approve(a, ref, key, comment="akkoord stuurgroep", acting=SG1)
        elif kind == "parties":
            for party, signer in zip(c.parties, (SG1, SG2, SG3), strict=False):
                services.approve(a, ref, key, party=party, evidence=f"besluit {party}", acting=signer)
        elif kind == "indicators":
            with a.db.read() as conn:
                have = store.indicators(conn, self.row().id)
            for _ in range(max(c.min_indicators - len(have), 0)):
                self.indicator += 1
                services.add_indicator(a, ref, f"ind{self.indicator}", label=f"Indicator {self.indicator}",
                                       baseline=40, target=50, acting=WR)
            with a.db.read() as conn:
                have = store.indicators(conn, self.row().id)
            for ind in have:
                for _ in range(c.min_measurements):
                    services.measure(a, ref, ind.key, 50, acting=WR)
        elif kind == "targets":
            with a.db.read() as conn:
                have = store.indicators(conn, self.row().id)
            for ind in have:
                services.measure(a, ref, ind.key, 50, acting=WR)
        elif kind == "interpretation":
            services.interpret(a, ref, conclusion="De cijfers wijzen de goede kant op.", acting=WR)
        elif kind == "themes":
            theme = next(iter(c.choices.values()), "Veilig en schoon")
            services.link_theme(a, ref, theme, results=("Minder overlast",), acting=WR)
        elif kind == "analysis":
            services.add_analysis(a, ref, strengths=("Actieve buurtvereniging",), bottlenecks=("Weinig groen",),
                                  acting=WR)
        elif kind == "agenda":
            year = self.clock().year
            if c.settled:
                for number in range(1, 50):
                    try:
                        services.update_activity(a, ref, number, status="done", acting=WR)
                    except Exception:  # noqa: BLE001 - numbers run out
                        break
            for partner in c.partners or ("Gemeente", "Bewoners"):
                for _ in range(max(c.min_per_partner, 1) if not c.settled else 0):
                    services.add_activity(a, ref, f"Activiteit {partner}", partner=partner, year=year + 1,
                                          acting=WR)
        elif kind == "min_days":
            self.clock.forward(c.days)
        else:  # pragma: no cover - a new kind needs a line here
            raise AssertionError(kind)

    def meet_gate(self, dest: str) -> None:
        self.asked = False
        for _ in range(10):
            open_ = self.open_criteria(dest)
            if not open_:
                return
            order = sorted(open_, key=lambda c: (c.kind in ("approval", "parties"), c.kind == "min_days"))
            if all(c.kind in ("approval", "parties") for c in open_) and not self.asked:
                # Only approvals left: each approver is asked, once, with what was delivered.
                got = self.sweep()
                for person in (SG1, SG2, SG3):
                    asked = [s for s in self.subjects(got, person) if s.startswith(("Wacht op uw goedkeuring",
                                                                                     "Waiting for your approval"))]
                    assert len(asked) == 1, (person, dest, dict(got))
                self.asked = True
            self.meet(order[0].key, order[0].kind)
        raise AssertionError(f"could not meet the gate to {dest}: {self.open_criteria(dest)}")


def next_phase(d: Definition, phase: str) -> str:
    order = [p.key for p in d.phases]
    return min((t.dest for t in d.outgoing(phase)),
               key=lambda dest: (order.index(dest) <= order.index(phase), order.index(dest)))


@pytest.mark.parametrize("workflow", ["wijkaanpak", "wijkprogramma", "wijkontwikkelingsplan", "gebiedsgericht"])
def test_a_programme_from_start_to_closed_tells_each_person_what_they_need(server, app, people, db_url, clock,
                                                                         workflow):
    smtp = App.open(db_url, clock=clock, smtp_host="127.0.0.1", smtp_port=server.port, smtp_security="none",
                    smtp_timeout=2, mail_from="wijkflow@gemeente.example")
    try:
        walk(Walk(app, smtp, server, clock, workflow))
    finally:
        smtp.close()


def walk(w: Walk) -> None:
    d = w.d
    rules = {r.key: r for r in d.reminders}
    first = True
    while not d.phase(w.row().phase).final:
        phase = w.row().phase
        dest = next_phase(d, phase)
        label = d.phase_label(phase)
        # A deadline on the first open criterion, 14 days ahead: "nadert" with a calendar entry.
        key = next(c.key for c in w.open_criteria(dest) if c.kind != "min_days")
        deadline = (w.clock().astimezone(w.app.tz) + timedelta(days=14)).date()
        services.set_deadline(w.app, w.slug, key, deadline.isoformat(), acting=PL)
        w.at(w.due_of("before"))
        got = w.sweep()
        crit = d.criteria[key].label
        for person in (PL, WR):
            (msg,) = [m for m in got[person] if m["Subject"] == f"Deadline nadert: {crit} (Oost)"]
            body = msg.get_body(("plain",)).get_content()
            assert f"is {long_date(deadline, 'nl')}, over " in body
            (ics,) = [p for p in msg.iter_attachments() if p.get_content_type() == "text/calendar"]
            assert f"DTSTART;VALUE=DATE:{deadline:%Y%m%d}" in ics.get_content()
        assert not any("Deadline" in s for p in (SG1, SG2, SG3) for s in w.subjects(got, p))
        if first:  # once: left open past the deadline, the overdue one (and no calendar entry)
            w.at(w.due_of("overdue"))
            got = w.sweep()
            for person in (PL, WR):
                (msg,) = [m for m in got[person] if m["Subject"] == f"Deadline verstreken: {crit} (Oost)"]
                assert not [p for p in msg.iter_attachments() if p.get_content_type() == "text/calendar"]
            first = False
        # The phase's own rhythm: each after/every rule of this phase reaches its people when due.
        own = [r for r in d.reminders if r.phase == phase and r.kind in ("after", "every")]
        inbox: dict[str, list[str]] = defaultdict(list)
        for rule in sorted(own, key=lambda r: w.due_of(r.kind, r.key)):
            if any(p["rule"] == rule.key for p in w.pending()):
                w.at(w.due_of(rule.kind, rule.key))
                for person, msgs in w.sweep().items():
                    inbox[person] += [m["Subject"] for m in msgs]
        for rule in own:
            for role in rule.to:
                for person in {"projectleider": (PL,), "coordinator": (WR,), "approver": (SG1, SG2, SG3)}[role]:
                    subject = rules[rule.key].subject_for(LOCALE[person]).split(":")[0]
                    assert any(s.startswith(subject) for s in inbox[person]), (rule.key, person, dict(inbox))
        # Meeting the gate: approvers are asked (when approvals are last), the projectleider told it is ready.
        w.meet_gate(dest)
        got = w.sweep()
        assert "Klaar voor de volgende fase: Aanpak Oost (Oost)" in w.subjects(got, PL), (phase, dict(got))
        services.advance(w.app, w.slug, acting=PL, to=dest, reason=f"Gate van {label} gehaald")
        got = w.sweep()
        new = d.phase_label(dest)
        for person in EVERYONE:
            expected = (f"New phase: Aanpak Oost (Oost) is now in {new}" if LOCALE[person] == "en"
                        else f"Nieuwe fase: Aanpak Oost (Oost) staat nu in {new}")
            assert expected in w.subjects(got, person), (person, dict(got))
    # Nothing is left to send once the aanpak is closed.
    with w.app.db.read() as conn:
        left = conn.execute(sa.text("SELECT count(*) FROM reminder WHERE status = 'pending'")).scalar()
    assert left == 0
