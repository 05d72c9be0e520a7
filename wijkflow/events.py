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
    "indicator_updated": EventType(EventText(N_("indicator updated"), N_("Indicator changed: {indicator}"))),
    "measurement_recorded": EventType(EventText(N_("measurement recorded: {indicator} = {value} ({date})"),
                                                N_("Measurement {indicator}: {value} ({date})"))),
    "indicators_interpreted": EventType(EventText(N_("indicators interpreted"), N_("Figures interpreted"))),
    "plan_point_added": EventType(EventText(N_("plan point added"), N_("Added to the analysis: {text}"))),
    "plan_partner_added": EventType(EventText(N_("plan partner added"), N_("Partner added: {partner}"))),
    "activity_added": EventType(EventText(N_("activity added"),
                                          N_("Activity #{number} added: {title} ({partner}, {year})"))),
    "activity_updated": EventType(EventText(N_("activity updated"), N_("Activity #{number} changed"))),
    "party_approved": EventType(EventText(N_("party approved: {criterion}"),
                                          N_("Signed for {party}: {criterion}"))),
    "theme_linked": EventType(EventText(N_("theme linked"), N_("Linked to theme {theme}"))),
    "intended_result_added": EventType(EventText(N_("intended result added"),
                                                 N_("Intended result for {theme}: {result}"))),
    "definition_migrated": EventType(
        EventText(N_("migrated: {from} -> v{to_version}"), N_("Moved to {to}")),
        variant=EventText(N_("migrated: {from} -> v{to_version}, {from_phase} -> {to_phase}"),
                          N_("Moved to {to}, phase {from_} → {to_label}")),
        varies=_moved),
    "areas_changed": EventType(EventText(N_("area codes changed: {areas}"), N_("CBS area codes: {areas}"))),
    "person_added": EventType(EventText(N_("person added"), N_("Person added: {who}"))),
    "person_forgotten": EventType(EventText(N_("person forgotten"), N_("Person forgotten: {who}"))),
    "reminder_sent": EventType(EventText(N_("reminder sent"), N_("Reminder sent ({rule})"))),
    "reminder_retry_scheduled": EventType(EventText(N_("reminder retry scheduled"),
                                                    N_("Reminder not delivered yet, tried again later ({rule})"))),
    "reminder_failed": EventType(EventText(N_("reminder failed"), N_("Reminder could not be delivered ({rule})"))),
    "reminder_cancelled": EventType(EventText(N_("reminder cancelled"), N_("Reminder cancelled ({rule})"))),
}
KNOWN_EVENT_TYPES = tuple(EVENT_TYPES)


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
        "theme": p.get("label") or p.get("theme"), "result": p.get("result"), "rule": p.get("rule"),
        "areas": ", ".join(p.get("after") or []) or "-",
    }
