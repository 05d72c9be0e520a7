"""`show REF --as-of DATE`: an aanpak as it stood at the end of a past day, rebuilt from its history.

Nothing here reads the current state tables (phase, criteria records, roles): the answer
is replayed from the audit events alone, so it is exactly what the history says, and a
later change to the live rows cannot alter what an auditor sees about the past. Names
come from the `person` table as it is now (the history holds person ids only), so a person
erased since shows as "(forgotten person)".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from .. import gates, store
from ..app import App
from ..errors import InvalidInput, NotFound
from ..gates import Facts, IndicatorFact, Record
from .aanpak import gate_view
from .common import STATUS_LABELS, Context, local_iso, local_midnight_utc, parse_date, person_ref


@dataclass
class Replay:
    """The state of one aanpak, advanced event by event."""

    name: str = ""
    wijk: str = ""
    gemeente: str = ""
    workflow: tuple[str, int] | None = None
    phase: str | None = None
    phase_since: datetime | None = None
    visit: int = 1
    records: list[Record] = field(default_factory=list)
    roles: list[tuple[str, int]] = field(default_factory=list)
    indicators: dict[str, dict[str, Any]] = field(default_factory=dict)
    deadlines: dict[str, str] = field(default_factory=dict)
    status: str = "active"
    events: int = 0

    def apply(self, e: Any, tz: Any) -> None:
        p = json.loads(e.payload or "{}")
        self.events += 1
        if e.type == "aanpak_created":
            self.name, self.wijk, self.gemeente = p.get("name", ""), p.get("wijk", ""), p.get("gemeente", "")
            if p.get("workflow") and p.get("workflow_version"):
                self.workflow = (p["workflow"], int(p["workflow_version"]))
            self.phase, self.phase_since = e.to_phase, e.at
            if p.get("imported_since"):
                self.phase_since = local_midnight_utc(date.fromisoformat(p["imported_since"]), tz)
        elif e.type == "phase_changed":
            self.phase, self.phase_since = e.to_phase, e.at
            self.visit = int(p.get("visit", self.visit)) + 1
            self.records = []
        elif e.type in ("criterion_completed", "criterion_approved"):
            if int(p.get("visit", self.visit)) == self.visit:
                action = "completed" if e.type == "criterion_completed" else "approved"
                self.records.append(Record(criterion=p["criterion"], action=action, person_id=e.actor_id,
                                           at=e.at, evidence=e.evidence,
                                           comment=e.reason if action == "approved" else None))
        elif e.type == "criterion_withdrawn":  # the latest such record of this visit no longer counts
            if int(p.get("visit", self.visit)) in (0, self.visit):
                same = [r for r in self.records if r.criterion == p["criterion"] and r.action == p.get("action")]
                if same:
                    self.records.remove(same[-1])
        elif e.type == "aanpak_renamed":
            self.name = p.get("new_name", self.name)
        elif e.type == "measurement_withdrawn":
            ind = self.indicators.get(p.get("indicator", ""))
            if ind is not None:
                ind["measurements"] -= 1
                ind["taken"] = [m for m in ind.get("taken", []) if m[2] != p.get("measurement_id")]
        elif e.type == "role_assigned":
            if (p["role"], p["person_id"]) not in self.roles:
                self.roles.append((p["role"], p["person_id"]))
        elif e.type in ("role_removed", "role_unassigned"):  # `unassign`, and `people forget`
            self.roles = [r for r in self.roles if r != (p.get("role"), p.get("person_id"))]
        elif e.type == "indicator_added":
            self.indicators[p["key"]] = {"label": p.get("label", p["key"]), "baseline": p.get("baseline"),
                                         "measurements": 0, "taken": []}
        elif e.type == "indicator_updated":
            ind = self.indicators.get(p.get("key", ""))
            if ind is not None and "baseline" in (p.get("after") or {}):
                ind["baseline"] = p["after"]["baseline"]
        elif e.type == "measurement_recorded":
            ind = self.indicators.get(p.get("indicator", ""))
            if ind is not None:
                ind["measurements"] += 1
                ind.setdefault("taken", []).append((e.at, p.get("date"), p.get("measurement_id")))
        elif e.type == "deadline_set":
            self.deadlines[p["criterion"]] = p["due"]
        elif e.type in ("aanpak_suspended", "aanpak_resumed", "aanpak_stopped"):
            self.status = p.get("status", self.status)
        elif e.type == "aanpak_reopened":
            self.status = "active"
            if e.to_phase:  # a closed one: back in the phase it left, a new visit
                self.phase, self.phase_since, self.visit, self.records = e.to_phase, e.at, int(p["visit"]), []
        elif e.type == "definition_migrated":  # `wijkflow migrate`: from here on the new version's rules
            if p.get("workflow") and p.get("to_version"):
                self.workflow = (p["workflow"], int(p["to_version"]))
            self.phase = e.to_phase or self.phase


    def recent(self, indicator: dict[str, Any], tz: Any) -> int:
        """Measurements new in this visit (as gates.load_facts counts them): recorded since the phase
        was entered, and taken on or after that day."""
        if self.phase_since is None:
            return 0
        entered = self.phase_since.astimezone(tz).date().isoformat()
        return sum(1 for at, day, _ in indicator.get("taken", []) if at >= self.phase_since and (day or "") >= entered)


def parse_as_of(value: str, tz: Any) -> tuple[date, datetime]:
    """The day asked for, and the moment it ends (exclusive), in UTC."""
    day = parse_date(value, "--as-of date")
    return day, local_midnight_utc(day + timedelta(days=1), tz)


def show_as_of(app: App, ref: str, as_of: str) -> dict[str, Any]:
    day, end = parse_as_of(as_of, app.tz)
    now = app.now()
    if local_midnight_utc(day, app.tz) > now:
        raise InvalidInput(f"--as-of {day} lies in the future; the history only knows the past.")
    moment = min(end - timedelta(microseconds=1), now)  # the last instant of that day: its calendar date
    with app.db.read() as conn:
        row = store.find_aanpak(conn, ref)
        state = Replay()
        for e in store.events_until(conn, row.id, end):  # events of the whole day, up to now if today
            state.apply(e, app.tz)
        if state.phase is None:
            first = next(store.events(conn, row.id), None)
            if first is None:
                raise NotFound(f"{row.name} has no history yet, so there is nothing to rebuild a past day from.")
            started = local_iso(first.at, app.tz) or ""
            raise NotFound(f"{row.name} did not exist yet on {day} (its history starts {started[:10]}).")
        def_id = row.definition_id
        if state.workflow is not None:
            def_id = store.definition_id_by_version(conn, *state.workflow) or def_id
        definition = store.definition(conn, app.definitions, def_id)
        facts = Facts(phase=state.phase, phase_since=state.phase_since or moment, records=tuple(state.records),
                      indicators=tuple(IndicatorFact(key=k, label=v["label"], has_baseline=v["baseline"] is not None,
                                                     measurements=v["measurements"],
                                                     recent=state.recent(v, app.tz))
                                       for k, v in state.indicators.items()))
        results = [gates.evaluate(definition, t, facts, moment) for t in definition.outgoing(state.phase)]
        ids = {pid for _, pid in state.roles} | {c.person_id for g in results for c in g.criteria}
        people = store.people_by_id(conn, {i for i in ids if i is not None})
    ctx = Context(row=row, definition=definition, roles=[])  # gate_view needs the definition only
    phase = definition.phase(state.phase)
    days = gates.calendar_days(state.phase_since or moment, moment)
    return {
        "id": row.id, "slug": row.slug, "name": state.name or row.name, "wijk": state.wijk or row.wijk,
        "gemeente": state.gemeente, "as_of": day.isoformat(), "events_replayed": state.events,
        "workflow": {"name": definition.name, "version": definition.version, "label": definition.label},
        "phase": state.phase, "phase_label": definition.phase_label(state.phase),
        "status": state.status, "status_label": STATUS_LABELS[state.status],
        "phase_since": local_iso(state.phase_since, app.tz), "days_in_phase": days,
        "stalled": bool(phase and phase.max_days and days > phase.max_days),
        "people": [{"role": r, **(person_ref(people, pid) or {})} for r, pid in state.roles],
        "gates": [gate_view(ctx, g, people, app) for g in results],
        "deadlines": dict(sorted(state.deadlines.items())),
        "indicators": list(state.indicators),
    }
