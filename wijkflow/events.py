"""The audit event types wijkflow writes, and what each one says to people.

Every type has two texts in the message catalogue (msgids are English, with `{named}`
placeholders filled from the event):

    line      the CLI's history line: terse, by key, ISO dates ("criterion completed: coalitie")
    sentence  the report's sentence: by label, local dates and numbers ("Opgeleverd: Coalitie gevormd")

A few types say something else in a special case (a forced phase change, a migration
that moved the phase): their `variant` texts apply when `varies(event)` holds. A type not
listed here (written by a newer wijkflow) is described by its own words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from .i18n import N_, t
from .roles import person_name, role_label
from .templating import iso_text, number

Form = Literal["line", "sentence"]


@dataclass(frozen=True)
class EventText:
    line: str
    sentence: str


@dataclass(frozen=True)
class EventType:
    text: EventText
    variant: EventText | None = None
    varies: Callable[[dict[str, Any]], bool] | None = None


def _overridden(e: dict[str, Any]) -> bool:
    return bool(e["payload"].get("override"))


def _moved(e: dict[str, Any]) -> bool:
    return bool(e["from_phase"] != e["to_phase"])


EVENT_TYPES: dict[str, EventType] = {
    "aanpak_created": EventType(EventText(N_("created in {to}"), N_("Aanpak started in phase {to}"))),
    "role_assigned": EventType(EventText(N_("role assigned: {who} as {role}"), N_("{who} is {role}"))),
    "criterion_completed": EventType(EventText(N_("criterion completed: {criterion}"), N_("Completed: {criterion}"))),
    "criterion_approved": EventType(EventText(N_("criterion approved: {criterion}"), N_("Approved: {criterion}"))),
    "deadline_set": EventType(EventText(N_("deadline set: {criterion}"), N_("Deadline {criterion}: {due}"))),
    "phase_changed": EventType(
        EventText(N_("{from_} -> {to}"), N_("Phase {from_} → {to}")),
        variant=EventText(N_("{from_} -> {to} (OVERRIDE)"), N_("Phase {from_} → {to} (gate overridden)")),
        varies=_overridden),
    "gate_overridden": EventType(EventText(N_("gate overridden"),
                                           N_("Gate overridden by an administrator; not met: {unmet}"))),
    "indicator_added": EventType(EventText(N_("indicator added: {indicator}"), N_("Indicator added: {indicator}"))),
    # A correction of the nulmeting or streefwaarde: the old and the new value (`indicator set`).
    "indicator_updated": EventType(EventText(N_("indicator corrected: {indicator} ({change})"),
                                             N_("Indicator {indicator} corrected: {change}"))),
    "measurement_recorded": EventType(EventText(N_("measurement recorded: {indicator} = {value} ({date})"),
                                                N_("Measurement {indicator}: {value} ({date})"))),
    "indicators_interpreted": EventType(EventText(N_("indicators interpreted: {indicators}"),
                                                  N_("Figures interpreted ({indicators})"))),
    "plan_point_added": EventType(EventText(N_("plan point added: {text}"), N_("Added to the analysis: {text}"))),
    "plan_partner_added": EventType(EventText(N_("plan partner added: {partner}"), N_("Partner added: {partner}"))),
    "activity_added": EventType(EventText(N_("activity added: #{number} {title} ({partner}, {year}, {status})"),
                                          N_("Activity #{number} added: {title} ({partner}, {year}, {status})"))),
    "activity_updated": EventType(EventText(N_("activity updated: #{number} {title}: {changes}"),
                                            N_("Activity #{number} {title} changed: {changes}"))),
    "party_approved": EventType(EventText(N_("party approved: {criterion}"),
                                          N_("Signed for {party}: {criterion}"))),
    "theme_linked": EventType(EventText(N_("theme linked: {theme}"), N_("Linked to theme {theme}"))),
    "intended_result_added": EventType(EventText(N_("intended result added: {theme}: {result}"),
                                                 N_("Intended result for {theme}: {result}"))),
    "definition_migrated": EventType(
        EventText(N_("migrated: {from} -> v{to_version}"), N_("Moved to {to}")),
        variant=EventText(N_("migrated: {from} -> v{to_version}, {from_phase} -> {to_phase}"),
                          N_("Moved to {to}, phase {from_} → {to_label}")),
        varies=_moved),
    "areas_changed": EventType(EventText(N_("area codes changed: {areas}"), N_("CBS area codes: {areas}"))),
    "person_added": EventType(EventText(N_("person added"), N_("Person added: {who}"))),
    "person_forgotten": EventType(EventText(N_("person forgotten"), N_("Person forgotten: {who}"))),
    # Corrections (issue 12): each points at what it corrects (`corrects`: that event's id).
    "criterion_withdrawn": EventType(EventText(N_("withdrawn: {criterion}"), N_("Withdrawn: {criterion}"))),
    "party_approval_withdrawn": EventType(EventText(N_("party sign-off withdrawn: {criterion}"),
                                                    N_("Signature for {party} withdrawn: {criterion}"))),
    "measurement_corrected": EventType(EventText(N_("measurement corrected: {indicator} {old} -> {value} ({date})"),
                                                 N_("Measurement {indicator} corrected: {old} → {value} ({date})"))),
    "measurement_withdrawn": EventType(EventText(N_("measurement withdrawn: {indicator} = {value} ({date})"),
                                                 N_("Measurement {indicator} withdrawn: {value} ({date})"))),
    "role_unassigned": EventType(EventText(N_("role ended: {who} as {role}"), N_("{who} is no longer {role}"))),
    "person_edited": EventType(EventText(N_("person edited"), N_("Person changed: {who}"))),
    "aanpak_renamed": EventType(EventText(N_("renamed: {old_name} -> {new_name}"),
                                          N_("Renamed from {old_name} to {new_name}"))),
    "aanpak_updated": EventType(EventText(N_("updated by import: {fields}"), N_("Changed by an import: {fields}"))),
    "aanpak_suspended": EventType(EventText(N_("suspended"), N_("Suspended: {reason}"))),
    "aanpak_resumed": EventType(EventText(N_("resumed"), N_("Resumed"))),
    "aanpak_stopped": EventType(EventText(N_("stopped"), N_("Stopped: {reason}"))),
    "aanpak_reopened": EventType(EventText(N_("reopened"), N_("Reopened: {reason}"))),
    "audit_purged": EventType(EventText(N_("history purged before {before}: {events} events"),
                                        N_("Content of {events} events before {before} erased (retention)"))),
    "reminder_sent": EventType(EventText(N_("reminder sent: {rule} to {who}"), N_("Reminder {rule} sent to {who}"))),
    "reminder_retry_scheduled": EventType(EventText(
        N_("reminder retry scheduled: {rule} to {who}"),
        N_("Reminder {rule} to {who} not delivered yet; tried again later"))),
    "reminder_failed": EventType(EventText(N_("reminder failed: {rule} to {who}"),
                                           N_("Reminder {rule} to {who} could not be delivered"))),
    "reminder_cancelled": EventType(EventText(N_("reminder cancelled: {rule}"), N_("Reminder {rule} cancelled"))),
    "reminder_requeued": EventType(EventText(N_("failed reminder requeued: {rule}"),
                                             N_("Undelivered reminder queued again ({rule})"))),
    # Signing in to the server (issue 18): personal access tokens, made and revoked.
    "token_created": EventType(EventText(N_("access token created for {who}"), N_("Access token made for {who}"))),
    "token_revoked": EventType(EventText(N_("access token revoked for {who}"),
                                         N_("Access token of {who} revoked"))),
}
KNOWN_EVENT_TYPES = tuple(EVENT_TYPES)


# What an activity of the uitvoeringsagenda is, and which of its fields may change (plan update).
ACTIVITY_STATUS = {"planned": N_("planned"), "running": N_("running"), "done": N_("done"), "dropped": N_("dropped")}
ACTIVITY_FIELDS = {"status": N_("status"), "year": N_("year"), "partner": N_("partner"), "title": N_("title")}


def _status(status: Any, locale: str | None) -> Any:
    return t(locale, ACTIVITY_STATUS[status]) if status in ACTIVITY_STATUS else status


def _changes(p: dict[str, Any], locale: str | None, line: bool) -> str:
    """'status gepland → gereed' from an update's before and after; by key on a line."""
    before, after = p.get("before") or {}, p.get("after") or {}
    if not isinstance(before, dict) or not isinstance(after, dict):
        return ""  # not an indicator's fields (e.g. `area`: lists of codes, shown as {areas})
    parts = []
    for key, new in after.items():
        old = before.get(key)
        if key == "status" and not line:
            old, new = _status(old, locale), _status(new, locale)
        name = key if line else t(locale, str(ACTIVITY_FIELDS.get(key, key)))
        parts.append(f"{name} {old} -> {new}" if line else f"{name} {old} → {new}")
    return ", ".join(parts)


def describe(e: dict[str, Any], locale: str | None, form: Form = "sentence") -> str:
    """What one event was, as `history` shows it: a dict with type, payload, phases and their labels."""
    kind = EVENT_TYPES.get(e["type"])
    if kind is None:
        return _unknown(e, form)
    text = kind.variant if kind.variant and kind.varies and kind.varies(e) else kind.text
    msgid = text.line if form == "line" else text.sentence
    return t(locale, msgid, **_params(e, locale, form))


def _unknown(e: dict[str, Any], form: Form) -> str:
    """A type from a newer wijkflow: its own words, and on a line the criterion it names."""
    what = str(e["type"]).replace("_", " ")
    return f"{what}: {e['payload']['criterion']}" if form == "line" and "criterion" in e["payload"] else what


def _params(e: dict[str, Any], locale: str | None, form: Form) -> dict[str, Any]:
    """Everything a text may name, from the event; by key on a line, by label in a sentence."""
    p = e["payload"]
    person = p.get("person") or {}
    ref = f"#{p['person_id']}" if p.get("person_id") else ""
    line = form == "line"
    value = p.get("value")
    old = p.get("old")
    return {
        "from_": e.get("from_label"), "to": e.get("to_label") if e["type"] != "definition_migrated" else p.get("to"),
        "to_label": e.get("to_label"), "from_phase": e.get("from_phase"), "to_phase": e.get("to_phase"),
        "from": p.get("from"), "to_version": p.get("to_version"),
        "criterion": p.get("criterion") if line else p.get("label") or p.get("criterion"),
        "who": (person.get("email") if line else person_name(person.get("name"), locale)) or ref,
        "role": p.get("role") if line else role_label(p.get("role") or "", locale),
        "indicator": p.get("indicator") or p.get("key") if line else p.get("label") or p.get("indicator")
        or p.get("key"),
        "value": (f"{value:g}" if line else number(value, locale)) if isinstance(value, int | float) else value,
        "date": p.get("date") if line else iso_text(p.get("date"), locale),
        "due": p.get("due") if line else iso_text(p.get("due"), locale),
        "unmet": ", ".join(p.get("unmet", [])),
        "text": p.get("text"), "partner": p.get("partner"), "number": p.get("number"), "title": p.get("title"),
        "year": p.get("year"), "party": p.get("party_label") or p.get("party"),
        "status": p.get("status") if line else _status(p.get("status"), locale),
        "changes": _changes(p, locale, line),
        "indicators": ", ".join(p.get("indicator_labels") or p.get("indicators") or []) or "-",
        "theme": p.get("label") or p.get("theme"), "result": p.get("result"), "rule": p.get("rule"),
        "old": (f"{old:g}" if line else number(old, locale)) if isinstance(old, int | float) else old,
        "change": _change(p, locale, line), "reason": e.get("reason") or "",
        "old_name": p.get("old_name"), "new_name": p.get("new_name"), "fields": ", ".join(p.get("fields", [])),
        "before": (iso_text(p["before"], locale) if not line and isinstance(p.get("before"), str)
                   else p.get("before")),
        "events": p.get("events"),
        "areas": ", ".join(p.get("after") or []) or "-",
    }


def _change(p: dict[str, Any], locale: str | None, line: bool) -> str:
    """`indicator set`: what changed, old -> new, field by field (the payload's before and after)."""
    before, after = p.get("before") or {}, p.get("after") or {}
    if not isinstance(before, dict) or not isinstance(after, dict):
        return ""  # not an indicator's fields (e.g. `area`: lists of codes, shown as {areas})
    parts = []
    for key in after:
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        shown = [(f"{v:g}" if line else number(v, locale)) if isinstance(v, int | float) else (v or "-")
                 for v in (old, new)]
        parts.append(f"{key} {shown[0]} -> {shown[1]}" if line else f"{key} {shown[0]} → {shown[1]}")
    return ", ".join(parts)
