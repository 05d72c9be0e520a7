"""What a message says: the template context for one occurrence and recipient, and the email
for one message or a digest of several.

Phrases written here (role labels, the digest's subject, 'N days', the calendar entry's
title) come from the message catalogue (`wijkflow.i18n`); dates are written per locale by
Babel. The sentences around them live in the per-locale templates in notifications/.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
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
from . import notify
from .calendar import Span
from .render import (
    CalendarEvent,
    Rendered,
    build_message,
    calendar_ics,
    deadline_uid,
    mail_domain,
    render,
    rule_template,
)


@dataclass(frozen=True)
class AanpakView:
    """What every message about one aanpak shares right now: its row, open criteria, gates, commands.

    The same for each recipient and rule, so a sweep computes it once per aanpak and batch; what
    differs per reader (the language of a reason, the commands their role may run) is chosen from
    it by `message_context`.
    """

    definition: Definition
    row: Any
    open: dict[str, dict[str, Any]]
    gates: list[dict[str, Any]]
    commands: list[tuple[str, frozenset[str]]]  # (command, the aanpak roles that may run it)
    deadline_moves: dict[str, int]  # per criterion: how often its deadline moved (the .ics SEQUENCE)
    last_move: dict[str, Any] | None  # the latest phase change: from, to, why, by whom (event notifications)


# Who may run what (wijkflow.permissions.WRITE), per criterion kind: a reminder names only the
# commands its reader may run. Reading commands (`gate`) are for everybody.
_EDITORS = frozenset({"projectleider", "coordinator"})
_KIND_COMMANDS: dict[str, tuple[str, frozenset[str]]] = {
    "deliverable": ('wijkflow complete {slug} {key} --evidence "..."', frozenset({"projectleider"})),
    "indicators": ("wijkflow measure {slug} INDICATOR WAARDE", _EDITORS),
    "targets": ("wijkflow measure {slug} INDICATOR WAARDE", _EDITORS),
    "interpretation": ('wijkflow interpret {slug} --conclusion "..."', _EDITORS | {"approver"}),
    "themes": ('wijkflow theme add {slug} THEMA --result "..."', _EDITORS),
    "analysis": ('wijkflow plan analyse {slug} --strong "..." --bottleneck "..."', _EDITORS),
    "agenda": ('wijkflow plan activity {slug} "..." --partner PARTNER', _EDITORS),
}


def _criterion_command(d: Definition, slug: str, key: str, kind: str) -> tuple[str, frozenset[str]] | None:
    if kind in ("approval", "parties"):
        crit = d.criteria.get(key)
        role = getattr(crit, "role", None) or "approver"
        party = " --party PARTIJ" if kind == "parties" else ""
        return f"wijkflow approve {slug} {key}{party}", frozenset({role})
    found = _KIND_COMMANDS.get(kind)
    return (found[0].format(slug=slug, key=key), found[1]) if found else None


def aanpak_view(conn: sa.Connection, app: Any, aanpak_id: int, now: datetime) -> AanpakView:
    aanpak = store.load_aanpak(conn, str(aanpak_id), app.definitions)
    d, row = aanpak.definition, aanpak.row
    facts = gates.load_facts(conn, row, d)
    open_: dict[str, dict[str, Any]] = {}
    gate_views = []
    for tr in d.outgoing(row.phase):
        results = gates.evaluate(d, tr, facts, now).criteria
        unmet: list[dict[str, Any]] = [{"key": c.key, "label": c.label, "kind": c.kind,
                                        "why": {"nl": c.why_in("nl"), "en": c.why_in("en")}}
                                       for c in results if c.blocking]
        # What was delivered (with its evidence): what an approver is asked to judge.
        done = [{"key": c.key, "label": c.label, "kind": c.kind, "evidence": c.evidence, "at": c.at,
                 "why": {"nl": c.why_in("nl"), "en": c.why_in("en")}}
                for c in results if c.met and c.kind not in ("min_days",)]
        gate_views.append({"label": tr.label, "to": tr.dest, "to_label": d.phase_label(tr.dest), "open": unmet,
                           "done": done})
        for c in unmet:
            open_.setdefault(c["key"], c)
    commands = []
    for c in open_.values():
        cmd = _criterion_command(d, row.slug, c["key"], c["kind"])
        if cmd is not None and cmd not in commands:
            commands.append(cmd)
    commands.append((f"wijkflow gate {row.slug}", frozenset({"projectleider", "coordinator", "approver"})))
    if not open_:
        commands.append((f"wijkflow advance {row.slug}", frozenset({"projectleider"})))
    move = store.last_event(conn, row.id, "phase_changed")
    last_move = None
    if move is not None:
        payload = json.loads(move.payload or "{}")
        by = store.people_by_id(conn, {move.actor_id}).get(move.actor_id) if move.actor_id else None
        last_move = {"from_label": d.phase_label(move.from_phase or ""), "to_label": d.phase_label(move.to_phase or ""),
                     "transition": payload.get("label") or "", "reason": move.reason or "",
                     "override": bool(payload.get("override")), "by": (by.name or "") if by else "", "at": move.at}
    return AanpakView(definition=d, row=row, open=open_, gates=gate_views, commands=commands,
                      deadline_moves=store.deadline_moves(conn, row.id), last_move=last_move)


def _in_locale(item: dict[str, Any], locale: str) -> dict[str, Any]:
    return {**item, "why": item["why"][locale]}


def message_context(app: Any, view: AanpakView, *, rule: ReminderRule, kind: str, person: Any, role: str,
                    due_at: datetime, criterion: str | None, deadline: date | None,
                    now: datetime) -> tuple[dict[str, Any], str]:
    """The template context for one recipient, and their locale."""
    d, row = view.definition, view.row
    locale = normal_locale(person.locale)
    days = max(int((now - row.phase_since) / timedelta(days=1)), 0)
    phase = d.phase(row.phase)
    entered = row.phase_since.astimezone(app.tz).date()
    if kind == "stalled" and isinstance(rule.stalled, str):
        limit_days = (app.calendar.add(entered, Span.parse(rule.stalled)) - entered).days
    else:
        limit_days = (phase.max_days if phase else None) or 0
    limit = tn(locale, "{n} day", "{n} days", limit_days) if limit_days else t(locale, "no time limit")
    crit = None
    crit_cmd = None
    if criterion:
        c = d.criteria.get(criterion)
        crit = {"key": criterion, "label": c.label if c else criterion}
        found = _criterion_command(d, row.slug, criterion, c.kind if c else "deliverable")
        if found is not None and role in found[1]:
            crit_cmd = found[0].removeprefix("wijkflow ")
    today = now.astimezone(app.tz).date()
    days_left = (deadline - today).days if deadline else None
    ask = rule.ask_for(locale)
    context = {
        "person": {"name": person.name or person.email or ""},
        "aanpak": {"name": row.name, "slug": row.slug, "wijk": row.wijk, "gemeente": row.gemeente,
                   "phase": row.phase, "phase_label": d.phase_label(row.phase)},
        "rule": {"key": rule.key, "kind": kind},
        "role": role, "role_label": role_label(role, locale),
        "due_date": long_date(due_at.astimezone(app.tz).date(), locale),
        "phase_since": long_date(row.phase_since.astimezone(app.tz).date(), locale),
        "days_in_phase": days, "limit": limit,
        # A stalled message is only sent past the limit; a preview before it must not say "longer than".
        "stalled_now": bool(limit_days) and days > limit_days,
        "ask": rule_template(ask).render(**_ask_context(row, d)) if ask else None,
        "open": [_in_locale(c, locale) for c in view.open.values()],
        "gates": [{**g, "heading": _gate_heading(g, locale), "open": [_in_locale(c, locale) for c in g["open"]]}
                  for g in view.gates],
        "commands": [cmd for cmd, roles in view.commands if role in roles],
        "criterion": crit, "criterion_command": crit_cmd,
        # Overdue by kind, or because the deadline has passed by now (a preview, a late catch-up).
        "overdue": kind != "deadline_met" and (kind == "overdue" or (days_left is not None and days_left < 0)),
        "deadline_met": kind == "deadline_met",
        "deadline": long_date(deadline, locale) if deadline else None,
        "deadline_iso": deadline.isoformat() if deadline else None,
        "days_left": days_left, "days_late": -days_left if days_left is not None and days_left < 0 else 0,
        # A calendar entry only for a deadline still ahead: never one for a date that has passed.
        "calendar": kind == "before" and days_left is not None and days_left >= 0,
        "links": page_links(app, row.slug, asks=kind == "awaiting_approval" or role == "approver"),
    }
    if kind in notify.EVENT_KINDS:
        context["event"] = _event_context(app, view, kind, criterion, locale)
    return context, locale


def page_links(app: Any, slug: str | None, *, asks: bool) -> dict[str, str | None]:
    """Where the reader sees it in the web pages, when the server's public address (settings.server_url) is
    known: the aanpak's page, and "Mijn taken" when the message asks for an approval or a sign-off."""
    base = (app.settings.server_url or "").rstrip("/")
    if not base:
        return {"aanpak": None, "tasks": None}
    return {"aanpak": f"{base}/aanpak/{slug}" if slug else None, "tasks": f"{base}/" if asks else None}


def _event_context(app: Any, view: AanpakView, kind: str, criterion: str | None, locale: str) -> dict[str, Any]:
    """What an event notification tells: the gate it is about, or the phase change (with why and by whom)."""
    about = [g for g in view.gates if _gate_is(g, kind)]
    move = view.last_move
    withdrawn = view.definition.criteria.get(criterion or "") if kind == "approval_withdrawn" else None
    return {
        "kind": kind,
        "gates": [{
            "label": gate["label"], "heading": _gate_heading(gate, locale), "to": gate["to"],
            "to_label": gate["to_label"],
            "open": [_in_locale(c, locale) for c in gate["open"]],
            "done": [{**_in_locale(c, locale), "at": long_date(c["at"].astimezone(app.tz).date(), locale)
                      if c["at"] else None} for c in gate["done"]]} for gate in about],
        "move": None if move is None else {**move, "at": long_date(move["at"].astimezone(app.tz).date(), locale)},
        "criterion_label": withdrawn.label if withdrawn is not None else None,
    }


def _gate_is(gate: dict[str, Any], kind: str) -> bool:
    """Is this gate what the event is about: met, or waiting only for approvals and sign-offs?"""
    if kind == "gate_met":
        return not gate["open"]
    if kind == "awaiting_approval":
        return bool(gate["open"]) and all(c["kind"] in notify.APPROVAL_KINDS for c in gate["open"])
    return False


def _gate_heading(gate: dict[str, Any], locale: str) -> str:
    """'Start uitvoering (naar Uitvoeren)', but never 'Naar ontwerpen (naar Ontwerpen)'."""
    if gate["to_label"].casefold() in gate["label"].casefold():
        return str(gate["label"])
    return t(locale, "{transition} (to {phase})", transition=gate["label"], phase=gate["to_label"])


def _ask_context(row: Any, d: Definition) -> dict[str, Any]:
    return {"aanpak": {"name": row.name, "slug": row.slug, "wijk": row.wijk, "gemeente": row.gemeente,
                       "phase_label": d.phase_label(row.phase)}}


def compose(conn: sa.Connection | None, app: Any, rows: list[Any], now: datetime, *,
            views: dict[int, AanpakView], people: dict[int, Any]) -> tuple[Message, str]:
    """(the email, the recipient's address) for one outbox message, or a digest of several to one person.

    `views` and `people` hold what was read already and take what is read here; `conn` may be
    None when they hold it all. A digest goes out under the Message-ID the sweep stamped on its
    messages when it first claimed them (`digest_message_id`), so a resend carries the same one.
    """
    pid = rows[0].person_id
    if pid not in people:
        assert conn is not None
        people.update(store.people_by_id(conn, {pid}))
    person = people.get(pid)
    items = []
    events: list[CalendarEvent] = []
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
        if context["calendar"]:
            events.append(_calendar_event(app, view, context, locale, m.aanpak_id))
        elif m.kind == "deadline_met" and len(rows) == 1:
            entry = _calendar_event(app, view, context, locale, m.aanpak_id)
            rendered.ics = calendar_ics([replace(entry, sequence=entry.sequence + 1)], stamp=now, method="CANCEL")
        items.append((context, rendered, locale))
    if len(items) == 1:
        context, rendered, locale = items[0]
        message_id = rows[0].message_id
    else:
        locale = items[0][2]
        subject = tn(locale, "{n} reminder from wijkflow", "{n} reminders from wijkflow", len(items))
        groups: dict[str, dict[str, Any]] = {}
        for c, r, _ in items:
            group = groups.setdefault(c["aanpak"]["slug"], {"aanpak": c["aanpak"], "items": []})
            group["items"].append({**c, "subject": r.subject})
        digest = {"person": items[0][0]["person"], "count": len(items), "groups": list(groups.values()),
                  "calendar_count": len(events), "links": page_links(app, None, asks=True)}
        rendered = render("digest", locale, digest, subject)
        stamped = rows[0].message_id
        message_id = stamped if stamped.startswith("<digest.") else digest_message_id(rows, app.settings.mail_from)
    if events:
        rendered.ics = calendar_ics(events, stamp=now)
    to_addr = (person.email if person else None) or ""
    msg = build_message(mail_from=app.settings.mail_from, to_name=person.name if person else None, to_addr=to_addr,
                        rendered=rendered, message_id=message_id, now=now, locale=locale)
    return msg, to_addr


def digest_message_id(rows: list[Any], mail_from: str) -> str:
    """A digest is named after its first message and its recipient, never after what else was due."""
    first = min(rows, key=lambda m: m.id)
    return f"<digest.{first.id}.{first.person_id}@{mail_domain(mail_from)}>"


def _calendar_event(app: Any, view: AanpakView, context: dict[str, Any], locale: str,
                    aanpak_id: int) -> CalendarEvent:
    """The deadline as a calendar entry: one UID per aanpak and criterion at this installation, and a
    SEQUENCE that rises each time the deadline moves, so calendars update the entry they have."""
    crit = context["criterion"]
    command = context["criterion_command"]
    return CalendarEvent(
        uid=deadline_uid(aanpak_id, crit["key"], app.settings.mail_from),
        sequence=view.deadline_moves.get(crit["key"], 0), day=date.fromisoformat(context["deadline_iso"]),
        summary=t(locale, "Deadline: {criterion} ({wijk})", criterion=crit["label"], wijk=context["aanpak"]["wijk"]),
        description=f"wijkflow {command}" if command else f"wijkflow gate {context['aanpak']['slug']}")


def preview(conn: sa.Connection, app: Any, *, aanpak_id: int, rule: ReminderRule, person: Any, role: str,
            now: datetime) -> Rendered:
    """What a rule's message would say to one person right now (for `wijkflow mail preview`)."""
    deadlines = store.deadlines(conn, aanpak_id)
    view = aanpak_view(conn, app, aanpak_id, now)
    criterion = next((c for c in (rule.criteria or sorted(deadlines)) if c in deadlines), None) \
        if rule.kind == "before" else None
    if rule.on == "approval_withdrawn":
        criterion = next((k for k, c in view.definition.criteria.items() if c.kind == "approval"), None)
    context, locale = message_context(app, view, rule=rule, kind=rule.on or rule.kind,
                                      person=person, role=role, due_at=now, criterion=criterion,
                                      deadline=deadlines.get(criterion) if criterion else None, now=now)
    return render(rule.template, locale, context, rule.subject_for(locale))
