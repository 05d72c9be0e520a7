"""Gate evaluation: pure functions from facts to a verdict per criterion, with the reason.

`transitions` conditions can only say False; they cannot say *which* criterion blocked.
So the gate is evaluated here first, and the machine's condition guards on this result.
Nothing here reads the clock or the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .definitions import (
    ApprovalCriterion,
    Definition,
    DeliverableCriterion,
    IndicatorsCriterion,
    MinDaysCriterion,
    Transition,
)


@dataclass(frozen=True)
class Record:
    """A deliverable completed or an approval given during the current visit of the phase."""

    criterion: str
    action: str  # completed | approved
    person_id: int | None
    at: datetime
    evidence: str | None = None
    comment: str | None = None


@dataclass(frozen=True)
class IndicatorFact:
    key: str
    label: str
    has_baseline: bool
    measurements: int
    # For targets: the figures themselves, and when the latest one was recorded.
    direction: str = "higher"
    baseline: float | None = None
    target: float | None = None
    latest: float | None = None
    latest_recorded_at: datetime | None = None
    # Measurements recorded since the aanpak entered its current phase.
    recent: int = 0


@dataclass(frozen=True)
class Facts:
    phase: str
    phase_since: datetime
    records: tuple[Record, ...] = ()
    indicators: tuple[IndicatorFact, ...] = ()
    # Plans, themes, interpretations and party sign-offs (programme_gates.ProgrammeFacts).
    programme: Any = None

    def latest(self, criterion: str, action: str) -> Record | None:
        found = None
        for r in self.records:
            if r.criterion == criterion and r.action == action:
                found = r
        return found


@dataclass(frozen=True)
class CriterionResult:
    key: str
    label: str
    kind: str
    optional: bool
    met: bool
    why: str
    person_id: int | None = None
    at: datetime | None = None
    evidence: str | None = None
    comment: str | None = None

    @property
    def blocking(self) -> bool:
        return not self.met and not self.optional

    def snapshot(self) -> dict[str, Any]:
        """The criterion as it was decided, for the phase-change event (written on every step)."""
        return {"key": self.key, "label": self.label, "kind": self.kind, "optional": self.optional,
                "met": self.met, "why": self.why, "person_id": self.person_id,
                "at": self.at.isoformat() if self.at else None, "evidence": self.evidence,
                "comment": self.comment}


@dataclass(frozen=True)
class GateResult:
    transition: Transition
    criteria: tuple[CriterionResult, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return not any(c.blocking for c in self.criteria)

    @property
    def unmet(self) -> list[CriterionResult]:
        return [c for c in self.criteria if c.blocking]


def evaluate(definition: Definition, transition: Transition, facts: Facts, now: datetime) -> GateResult:
    results = []
    for key in transition.gate:
        criterion = definition.criteria[key]
        results.append(_evaluate_one(key, criterion, facts, now))
    return GateResult(transition=transition, criteria=tuple(results))


def _evaluate_one(key: str, c: Any, facts: Facts, now: datetime) -> CriterionResult:
    base = {"key": key, "label": c.label, "kind": c.kind, "optional": c.optional}
    if isinstance(c, DeliverableCriterion):
        rec = facts.latest(key, "completed")
        if rec is None:
            return CriterionResult(**base, met=False, why="not completed yet")
        return CriterionResult(**base, met=True, why="completed", person_id=rec.person_id, at=rec.at,
                               evidence=rec.evidence)
    if isinstance(c, ApprovalCriterion):
        rec = facts.latest(key, "approved")
        if rec is None:
            return CriterionResult(**base, met=False, why=f"not approved yet (by someone with the {c.role} role)")
        if c.approves is not None:
            target = facts.latest(c.approves, "completed")
            if target is None:
                return CriterionResult(**base, met=False, why=f"'{c.approves}' is not completed yet",
                                       person_id=rec.person_id, at=rec.at, comment=rec.comment)
            if target.at > rec.at:
                return CriterionResult(**base, met=False,
                                       why=f"'{c.approves}' changed after it was approved; approve again",
                                       person_id=rec.person_id, at=rec.at, comment=rec.comment)
            if target.person_id is not None and target.person_id == rec.person_id:
                return CriterionResult(**base, met=False,
                                       why="approved by the same person who completed it (four-eyes)",
                                       person_id=rec.person_id, at=rec.at, comment=rec.comment)
        return CriterionResult(**base, met=True, why="approved", person_id=rec.person_id, at=rec.at,
                               comment=rec.comment)
    if isinstance(c, IndicatorsCriterion):
        return _indicators(base, c, facts)
    if isinstance(c, MinDaysCriterion):
        days = (now - facts.phase_since) / timedelta(days=1)
        if days >= c.days:
            return CriterionResult(**base, met=True, why=f"{int(days)} days in phase (at least {c.days})")
        ready = facts.phase_since + timedelta(days=c.days)
        return CriterionResult(**base, met=False,
                               why=f"{int(days)} of {c.days} days in phase; met from {ready.date().isoformat()}")
    from .programme_gates import evaluate_programme

    result = evaluate_programme(base, c, facts)
    if result is not None:
        return result
    raise AssertionError(f"unhandled criterion kind {c.kind}")  # pragma: no cover - validated on load


def _indicators(base: dict[str, Any], c: IndicatorsCriterion, facts: Facts) -> CriterionResult:
    inds = facts.indicators
    if len(inds) < c.min_indicators:
        return CriterionResult(**base, met=False,
                               why=f"{len(inds)} indicators recorded, at least {c.min_indicators} needed")
    problems = []
    if c.baseline:
        missing = [i.key for i in inds if not i.has_baseline]
        if missing:
            problems.append("no baseline for " + ", ".join(missing))
    if c.min_measurements:
        count = (lambda i: i.recent) if c.since_phase_entry else (lambda i: i.measurements)
        short = [i.key for i in inds if count(i) < c.min_measurements]
        if short:
            when = " since entering this phase" if c.since_phase_entry else ""
            problems.append(f"fewer than {c.min_measurements} measurements{when} for " + ", ".join(short))
    if problems:
        return CriterionResult(**base, met=False, why="; ".join(problems))
    return CriterionResult(**base, met=True, why=f"{len(inds)} indicators complete")
