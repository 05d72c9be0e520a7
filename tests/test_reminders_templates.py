"""Every template × every rule of every shipped definition × nl and en, rendered and read by a test.

Rendered with StrictUndefined (a missing variable fails), in every phase the rule can fire in,
before and after its deadline: no English words in the Dutch text, no negative durations, no
role keys, no `None`, and only commands the reader's role may run.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from conftest import PL, SG1, SG2, WR

from wijkflow import permissions, services, store
from wijkflow.definitions import load_file, shipped_dir
from wijkflow.reminders.compose import aanpak_view, message_context
from wijkflow.reminders.render import render

DEFINITIONS = ["wijkaanpak", "wijkprogramma", "wijkontwikkelingsplan", "gebiedsgericht"]

# English that must not appear in a Dutch message (whole words, outside commands).
ENGLISH = re.compile(r"\b(the|and|days?|phase|due|still|approver|steering|completed|approved|not|yet|reminder|"
                     r"passed|measurements?|baseline|signed|waiting|none|project leader)\b", re.IGNORECASE)
NEGATIVE = re.compile(r"(-\d+\s*(dag|dagen|day|days)\b)|\b(in|over) -\d")
COMMAND = re.compile(r"^\s*wijkflow .*$|<pre[^>]*>.*?</pre>|<code[^>]*>.*?</code>|Afronden met: .*$", re.M | re.S)
# Who may run which command, from the permission matrix itself.
MAY = {cmd: permissions.MATRIX[cmd] for cmd in ("complete", "approve", "measure", "interpret", "theme add",
                                                "plan analyse", "plan activity", "advance")}


def prose(text: str) -> str:
    """The text a person reads as sentences: without commands, tags and names of things."""
    text = COMMAND.sub(" ", text)
    return re.sub(r"<[^>]+>", " ", text)


@pytest.mark.parametrize("name", DEFINITIONS)
def test_every_rule_renders_in_both_languages_in_every_phase(app, people, clock, name):
    d = load_file(shipped_dir() / f"{name}.yaml")
    now = clock()
    today = now.date()
    for phase in (p for p in d.phases if not p.final):
        slug = services.create_aanpak(app, f"Aanpak {phase.key}", wijk="Oost", gemeente="Hengelo", leader=PL,
                                      workflow=name, coordinators=(WR,), approvers=(SG1, SG2), acting=PL,
                                      phase=phase.key, since=(today - timedelta(days=200)).isoformat())["slug"]
        criterion = next(k for t in d.outgoing(phase.key) for k in t.gate)
        with app.db.read() as conn:
            row = store.find_aanpak(conn, slug)
            view = aanpak_view(conn, app, row.id, now)
            people_rows = {p.email: p for p in store.list_people(conn)}
        for rule in d.reminders:
            kinds = [rule.on or rule.kind] + (["overdue", "deadline_met"] if rule.kind == "before" else [])
            for kind in kinds:
                for deadline in ([today + timedelta(days=5), today - timedelta(days=3)] if rule.kind == "before"
                                 else [None]):
                    for role in rule.to:
                        for email in (PL, WR, SG1, SG2):
                            person = people_rows[email]
                            context, locale = message_context(
                                app, view, rule=rule, kind=kind, person=person, role=role, due_at=now,
                                criterion=subject_of(d, rule, phase.key, criterion if deadline else None),
                                deadline=deadline, now=now)
                            rendered = render(rule.template, locale, context, rule.subject_for(locale))
                            check(rendered, locale, role, where=f"{name}/{phase.key}/{rule.key}/{kind}/{role}/"
                                                                f"{email}/{deadline}", deadline=deadline,
                                  today=today)


def subject_of(d, rule, phase: str, criterion: str | None) -> str | None:
    """What an occurrence names in its `criterion`: a deadline's criterion, a gate's destination, an approval."""
    if rule.on in ("awaiting_approval", "gate_met"):
        return d.outgoing(phase)[0].dest
    if rule.on == "approval_withdrawn":
        return next(k for k, c in d.criteria.items() if c.kind == "approval")
    return criterion


def check(rendered, locale: str, role: str, *, where: str, deadline: date | None, today: date) -> None:
    for part in (rendered.subject, rendered.text, rendered.html):
        assert not NEGATIVE.search(part), f"{where}: a negative duration in {part!r}"
        assert "None" not in prose(part), f"{where}: None in {part!r}"
    if locale == "nl":
        for part in (rendered.subject, rendered.text, rendered.html):
            found = ENGLISH.findall(prose(part))
            assert not found, f"{where}: English {found} in the Dutch text:\n{part}"
            # "projectleider" is the Dutch word as well as the key; the other two keys are English.
            assert not re.search(r"\b(approver|coordinator)\b", prose(part)), f"{where}: a role key in {part!r}"
    if deadline is not None and deadline < today:
        assert "nadert" not in rendered.subject and "approaching" not in rendered.subject, where
    # Only the commands this role may run.
    for cmd, allowed in MAY.items():
        if f"wijkflow {cmd} " in rendered.text:
            assert role in allowed, f"{where}: {role} is told to run `wijkflow {cmd}`"
