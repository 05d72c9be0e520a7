"""What a message says: the template context for one occurrence and recipient, and the email
for one message or a digest of several.

Phrases written here (role labels, the digest's subject, 'N days', the calendar entry's
title) come from the message catalogue (`wijkflow.i18n`); dates are written per locale by
Babel. The sentences around them live in the per-locale templates in notifications/.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import Message
from typing import Any

import sqlalchemy as sa

from .. import gates, store
from ..definitions import Definition, ReminderRule
from ..errors import TemplateProblem
from ..i18n import normal_locale, t, tn
from ..roles import role_label
from ..templating import long_date
from .calendar import Span
from .render import Rendered, build_message, deadline_ics, render
from .schedule import DEADLINE_KINDS


@dataclass(frozen=True)
class AanpakView:
    """What every message about one aanpak shares right now: its row, open criteria, gates, commands.

    The same for each recipient and rule, so a sweep computes it once per aanpak and batch.
    """

    definition: Definition
    row: Any
    open: dict[str, dict[str, Any]]
    gates: list[dict[str, Any]]
    commands: list[str]


def aanpak_view(conn: sa.Connection, app: Any, aanpak_id: int, now: datetime) -> AanpakView:
    aanpak = store.load_aanpak(conn, str(aanpak_id), app.definitions)
    d, row = aanpak.definition, aanpak.row
    facts = gates.load_facts(conn, row, d)
    open_: dict[str, dict[str, Any]] = {}
    gate_views = []
    for tr in d.outgoing(row.phase):
        unmet = [{"key": c.key, "label": c.label, "kind": c.kind, "why": c.why}
                 for c in gates.evaluate(d, tr, facts, now).criteria if c.blocking]
        gate_views.append({"label": tr.label, "to": tr.dest, "to_label": d.phase_label(tr.dest), "open": unmet})
        for c in unmet:
            open_.setdefault(c["key"], c)
    commands = []
    for c in open_.values():
        if c["kind"] == "deliverable":
            commands.append(f'wijkflow complete {row.slug} {c["key"]} --evidence "..."')
        elif c["kind"] == "approval":
            commands.append(f"wijkflow approve {row.slug} {c['key']}")
        elif c["kind"] == "indicators":
            commands.append(f"wijkflow measure {row.slug} INDICATOR WAARDE")
    commands.append(f"wijkflow gate {row.slug}" if open_ else f"wijkflow advance {row.slug}")
    return AanpakView(definition=d, row=row, open=open_, gates=gate_views, commands=commands)


def message_context(app: Any, view: AanpakView, *, rule: ReminderRule, kind: str, person: Any, role: str,
                    due_at: datetime, criterion: str | None, deadline: date | None,
                    now: datetime) -> tuple[dict[str, Any], str]:
    """The template context for one recipient, and their locale."""
    d, row = view.definition, view.row
    locale = normal_locale(person.locale)
    days = int((now - row.phase_since) / timedelta(days=1))
    phase = d.phase(row.phase)
    if kind == "stalled" and isinstance(rule.stalled, str):
        limit = str(Span.parse(rule.stalled))
    else:
        limit = t(locale, "{n} days", n=phase.max_days if phase else "?")
    crit = None
    crit_cmd = None
    if criterion:
        c = d.criteria.get(criterion)
        crit = {"key": criterion, "label": c.label if c else criterion}
        verb = "approve" if c is not None and c.kind == "approval" else "complete"
        crit_cmd = f"{verb} {row.slug} {criterion}" + (' --evidence "..."' if verb == "complete" else "")
    context = {
        "person": {"name": person.name or person.email or ""},
        "aanpak": {"name": row.name, "slug": row.slug, "wijk": row.wijk, "gemeente": row.gemeente,
                   "phase": row.phase, "phase_label": d.phase_label(row.phase)},
        "rule": {"key": rule.key, "kind": kind},
        "role": role, "role_label": role_label(role, locale),
        "due_date": long_date(due_at.astimezone(app.tz).date(), locale),
        "phase_since": long_date(row.phase_since.astimezone(app.tz).date(), locale),
        "days_in_phase": days, "limit": limit,
        "open": list(view.open.values()), "gates": view.gates, "commands": view.commands,
        "criterion": crit, "criterion_command": crit_cmd, "overdue": kind == "overdue",
        "deadline": long_date(deadline, locale) if deadline else None,
        "days_left": (deadline - now.astimezone(app.tz).date()).days if deadline else None,
    }
    return context, locale


def compose(conn: sa.Connection | None, app: Any, rows: list[Any], now: datetime, *,
            views: dict[int, AanpakView], people: dict[int, Any]) -> tuple[Message, str]:
    """(the email, the recipient's address) for one outbox message, or a digest of several to one person.

    `views` and `people` hold what was read already and take what is read here; `conn` may be
    None when they hold it all.
    """
    pid = rows[0].person_id
    if pid not in people:
        assert conn is not None
        people.update(store.people_by_id(conn, {pid}))
    person = people.get(pid)
    items = []
    for m in rows:
        if m.aanpak_id not in views:
            assert conn is not None
            views[m.aanpak_id] = aanpak_view(conn, app, m.aanpak_id, now)
        view = views[m.aanpak_id]
        rule = view.definition.reminder(m.rule)
        if rule is None:
            raise TemplateProblem(template=m.rule, problem="the rule is no longer in the workflow")
        context, locale = message_context(app, view, rule=rule, kind=m.kind, person=person, role=m.role,
                                          due_at=m.due_at, criterion=m.criterion, deadline=m.deadline, now=now)
        rendered = render(rule.template, locale, context, rule.subject_for(locale))
        if m.kind in DEADLINE_KINDS and m.deadline is not None:
            rendered.ics = deadline_ics(
                uid=f"deadline.{m.aanpak_id}.{m.criterion}@wijkflow", day=m.deadline, stamp=now,
                summary=t(locale, "Deadline: {criterion} ({wijk})", criterion=context["criterion"]["label"],
                          wijk=context["aanpak"]["wijk"]),
                description=f"wijkflow {context['criterion_command']}")
        items.append((context, rendered, locale))
    if len(items) == 1:
        context, rendered, locale = items[0]
        message_id = rows[0].message_id
    else:
        locale = items[0][2]
        subject = tn(locale, "{n} reminder from wijkflow", "{n} reminders from wijkflow", len(items))
        digest = {"person": items[0][0]["person"], "items": [{**c, "subject": r.subject} for c, r, _ in items]}
        rendered = render("digest", locale, digest, subject)
        domain = rows[0].message_id.rsplit("@", 1)[-1]
        message_id = f"<digest.{'-'.join(str(m.id) for m in rows)}@{domain}"
    to_addr = (person.email if person else None) or ""
    msg = build_message(mail_from=app.settings.mail_from, to_name=person.name if person else None, to_addr=to_addr,
                        rendered=rendered, message_id=message_id, now=now, locale=locale)
    return msg, to_addr


def preview(conn: sa.Connection, app: Any, *, aanpak_id: int, rule: ReminderRule, person: Any, role: str,
            now: datetime) -> Rendered:
    """What a rule's message would say to one person right now (for `wijkflow mail preview`)."""
    deadlines = store.deadlines(conn, aanpak_id)
    criterion = next((c for c in (rule.criteria or sorted(deadlines)) if c in deadlines), None) \
        if rule.kind == "before" else None
    context, locale = message_context(app, aanpak_view(conn, app, aanpak_id, now), rule=rule, kind=rule.kind,
                                      person=person, role=role, due_at=now, criterion=criterion,
                                      deadline=deadlines.get(criterion) if criterion else None, now=now)
    return render(rule.template, locale, context, rule.subject_for(locale))
