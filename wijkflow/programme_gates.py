"""Gate evaluation for the source programmes' criteria: pure, like gates.py.

targets (streefwaarden reached), interpretation (someone judged the figures),
analysis and agenda (the wijkontwikkelingsplan), themes (veranderopgaven with
beoogde resultaten) and parties (gebiedstafel, lokaal contract).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .definitions import (
    AgendaCriterion,
    AnalysisCriterion,
    InterpretationCriterion,
    PartiesCriterion,
    TargetsCriterion,
    ThemesCriterion,
)
from .gates import CriterionResult, Facts, IndicatorFact

OPEN_STATUSES = ("planned", "running")


@dataclass(frozen=True)
class InterpretationFact:
    person_id: int | None
    conclusion: str
    at: datetime


@dataclass(frozen=True)
class ActivityFact:
    number: int
    partner: str
    year: int
    status: str


@dataclass(frozen=True)
class PartyFact:
    criterion: str
    party: str
    person_id: int | None
    at: datetime
    evidence: str | None = None


@dataclass(frozen=True)
class ProgrammeFacts:
    interpretations: tuple[InterpretationFact, ...] = ()  # this visit of the phase, oldest first
    strengths: int = 0
    bottlenecks: int = 0
    partners: tuple[str, ...] = ()  # named on any agenda criterion of the definition or on the aanpak
    activities: tuple[ActivityFact, ...] = ()
    themes: dict[str, int] = field(default_factory=dict)  # theme label -> number of intended results
    parties: tuple[PartyFact, ...] = ()  # this visit of the phase


def reached(i: IndicatorFact) -> bool:
    """Has the latest measurement reached the target, in the direction that counts as better?"""
    if i.latest is None or i.target is None:
        return False
    return i.latest >= i.target if i.direction == "higher" else i.latest <= i.target


def evaluate_programme(base: dict[str, Any], c: Any, facts: Facts) -> CriterionResult | None:
    p: ProgrammeFacts = facts.programme or ProgrammeFacts()
    if isinstance(c, TargetsCriterion):
        return _targets(base, c, facts.indicators)
    if isinstance(c, InterpretationCriterion):
        return _interpretation(base, p, facts.indicators)
    if isinstance(c, AnalysisCriterion):
        problems = []
        if p.strengths < c.min_strong_points:
            problems.append(f"{p.strengths} of {c.min_strong_points} strong points")
        if p.bottlenecks < c.min_bottlenecks:
            problems.append(f"{p.bottlenecks} of {c.min_bottlenecks} knelpunten")
        if problems:
            return CriterionResult(**base, met=False, why="analysis incomplete: " + ", ".join(problems))
        return CriterionResult(**base, met=True,
                               why=f"{p.strengths} strong points, {p.bottlenecks} knelpunten")
    if isinstance(c, AgendaCriterion):
        return _agenda(base, c, p)
    if isinstance(c, ThemesCriterion):
        full = [t for t, n in p.themes.items() if n >= c.min_results_per_theme]
        if len(full) < c.min_themes:
            short = [t for t, n in p.themes.items() if n < c.min_results_per_theme]
            why = f"{len(full)} of {c.min_themes} themes with at least {c.min_results_per_theme} intended result(s)"
            if short:
                why += "; no intended result yet for " + ", ".join(short)
            return CriterionResult(**base, met=False, why=why)
        return CriterionResult(**base, met=True, why=f"{len(full)} themes with intended results")
    if isinstance(c, PartiesCriterion):
        return _parties(base, c, p)
    return None


def _targets(base: dict[str, Any], c: TargetsCriterion, inds: tuple[IndicatorFact, ...]) -> CriterionResult:
    by_key = {i.key: i for i in inds}
    missing = [k for k in c.indicators if k not in by_key]
    if missing:
        return CriterionResult(**base, met=False, why="no indicator " + ", ".join(missing)
                               + " yet (wijkflow indicator add, e.g. --from-catalogue)")
    chosen = [by_key[k] for k in c.indicators] if c.indicators else [i for i in inds if i.target is not None]
    if not chosen:
        return CriterionResult(**base, met=False, why="no indicator has a target (streefwaarde)")
    no_target = [i.key for i in chosen if i.target is None]
    if no_target:
        return CriterionResult(**base, met=False, why="no target for " + ", ".join(no_target))
    done = [i for i in chosen if reached(i)]
    needed = c.min_reached if c.min_reached is not None else len(chosen)
    if len(done) >= needed:
        return CriterionResult(**base, met=True, why=f"{len(done)} of {len(chosen)} targets reached")
    short = ", ".join(i.key for i in chosen if not reached(i))
    return CriterionResult(**base, met=False,
                           why=f"{len(done)} of {needed} targets reached; not yet: {short}")


def _interpretation(base: dict[str, Any], p: ProgrammeFacts, inds: tuple[IndicatorFact, ...]) -> CriterionResult:
    if not p.interpretations:
        return CriterionResult(**base, met=False,
                               why="nobody has interpreted the figures in this phase yet (wijkflow interpret)")
    last = p.interpretations[-1]
    newest = max((i.latest_recorded_at for i in inds if i.latest_recorded_at), default=None)
    if newest is not None and newest > last.at:
        return CriterionResult(**base, met=False, why="new measurements since the last interpretation; "
                               "interpret the figures again", person_id=last.person_id, at=last.at)
    return CriterionResult(**base, met=True, why="interpreted", person_id=last.person_id, at=last.at,
                           comment=last.conclusion)


def required_partners(c: AgendaCriterion, p: ProgrammeFacts) -> list[str]:
    out: dict[str, str] = {}
    for name in (*c.partners, *p.partners):
        out.setdefault(name.casefold(), name)
    return list(out.values())


def _agenda(base: dict[str, Any], c: AgendaCriterion, p: ProgrammeFacts) -> CriterionResult:
    partners = required_partners(c, p)
    if not partners and c.min_per_partner:
        return CriterionResult(**base, met=False, why="no partners named yet (wijkflow plan partner)")
    live = [a for a in p.activities if (a.status in OPEN_STATUSES if c.open_only else a.status != "dropped")]
    counts = {name.casefold(): 0 for name in partners}
    for a in live:
        if a.partner.casefold() in counts:
            counts[a.partner.casefold()] += 1
    short = [name for name in partners if counts[name.casefold()] < c.min_per_partner]
    if short:
        what = "activity" if c.min_per_partner == 1 else f"{c.min_per_partner} activities"
        return CriterionResult(**base, met=False,
                               why=f"no {'open ' if c.open_only else ''}{what} yet for " + ", ".join(short))
    if c.settled:
        if not p.activities:
            return CriterionResult(**base, met=False, why="the agenda has no activities")
        still = [f"#{a.number}" for a in p.activities if a.status in OPEN_STATUSES]
        if still:
            return CriterionResult(**base, met=False, why="activities still open: " + ", ".join(still))
        return CriterionResult(**base, met=True, why=f"all {len(p.activities)} activities done or dropped")
    return CriterionResult(**base, met=True, why=f"{len(live)} activities for {len(partners)} partners")


def _parties(base: dict[str, Any], c: PartiesCriterion, p: ProgrammeFacts) -> CriterionResult:
    mine = {f.party: f for f in p.parties if f.criterion == base["key"]}
    missing = [label for key, label in c.parties.items() if key not in mine]
    people = [f.person_id for f in mine.values()]
    if len(set(people)) != len(people):
        return CriterionResult(**base, met=False, why="one person signed for more than one party")
    if missing:
        return CriterionResult(**base, met=False, why=f"{len(mine)} of {len(c.parties)} parties signed; "
                               "waiting for " + ", ".join(missing))
    last = max(mine.values(), key=lambda f: f.at)
    return CriterionResult(**base, met=True, why=f"signed by all {len(c.parties)} parties",
                           at=last.at, evidence="; ".join(f"{label}: {mine[k].evidence}"
                                                          for k, label in c.parties.items() if mine[k].evidence)
                           or None)
