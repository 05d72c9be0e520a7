"""One evaluator per criterion kind, in one registry keyed by kind; pure functions of the facts.

`transitions` conditions can only say False; they cannot say *which* criterion blocked.
So the gate is evaluated here first, and the machine's condition guards on this result.
Each evaluator returns a Verdict whose reason is a message code (N_) with parameters;
nothing here reads the clock or the database, and no sentence is built by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..definitions import (
    AgendaCriterion,
    AnalysisCriterion,
    ApprovalCriterion,
    Definition,
    IndicatorsCriterion,
    MinDaysCriterion,
    PartiesCriterion,
    TargetsCriterion,
    ThemesCriterion,
    Transition,
)
from ..i18n import N_
from .facts import OPEN_STATUSES, Facts, ProgrammeFacts, calendar_day_after, calendar_days, reached
from .result import CriterionResult, GateResult, Verdict

Evaluator = Callable[[str, Any, Facts, datetime], Verdict]

PROGRAMME_KINDS = frozenset({"targets", "interpretation", "analysis", "agenda", "themes", "parties"})


def _names(items: list[str]) -> str:
    return ", ".join(items)


# --- the core kinds: deliverables, approvals, indicators, time in phase --------------------


def deliverable(key: str, c: Any, facts: Facts, now: datetime) -> Verdict:
    rec = facts.latest(key, "completed")
    if rec is None:
        return Verdict(met=False, reason=N_("not completed yet"))
    return Verdict(met=True, reason=N_("completed"), person_id=rec.person_id, at=rec.at, evidence=rec.evidence)


def approval(key: str, c: ApprovalCriterion, facts: Facts, now: datetime) -> Verdict:
    rec = facts.latest(key, "approved")
    if rec is None:
        return Verdict(met=False, reason=N_("not approved yet (by someone with the {role} role)"),
                       params={"role": c.role})

    def verdict(met: bool, reason: str, **params: Any) -> Verdict:  # who approved, when, and their comment
        return Verdict(met=met, reason=reason, params=params, person_id=rec.person_id, at=rec.at,
                       comment=rec.comment)

    if c.approves is not None:
        target = facts.latest(c.approves, "completed")
        if target is None:
            return verdict(False, N_("'{criterion}' is not completed yet"), criterion=c.approves)
        if target.at > rec.at:
            return verdict(False, N_("'{criterion}' changed after it was approved; approve again"),
                           criterion=c.approves)
        if target.person_id is not None and target.person_id == rec.person_id:
            return verdict(False, N_("approved by the same person who completed it (four-eyes)"))
    return verdict(True, N_("approved"))


# Which indicators fall short, by what was asked; one message per combination, so that
# every language can word the whole sentence.
_INDICATOR_PROBLEMS = {
    (True, False, False): N_("no baseline for {missing}"),
    (False, True, False): N_("fewer than {n} measurements for {short}"),
    (False, True, True): N_("fewer than {n} measurements since entering this phase for {short}"),
    (True, True, False): N_("no baseline for {missing}; fewer than {n} measurements for {short}"),
    (True, True, True): N_("no baseline for {missing}; fewer than {n} measurements since entering this phase "
                           "for {short}"),
}


def indicators(key: str, c: IndicatorsCriterion, facts: Facts, now: datetime) -> Verdict:
    inds = facts.indicators
    if len(inds) < c.min_indicators:
        return Verdict(met=False, reason=N_("{count} indicators recorded, at least {needed} needed"),
                       params={"count": len(inds), "needed": c.min_indicators})
    missing = [i.key for i in inds if not i.has_baseline] if c.baseline else []
    short: list[str] = []
    if c.min_measurements:
        short = [i.key for i in inds
                 if (i.recent if c.since_phase_entry else i.measurements) < c.min_measurements]
    if missing or short:
        reason = _INDICATOR_PROBLEMS[(bool(missing), bool(short), bool(short) and c.since_phase_entry)]
        return Verdict(met=False, reason=reason,
                       params={"missing": _names(missing), "n": c.min_measurements, "short": _names(short)})
    one = len(inds) == 1  # "1 indicatoren compleet" read wrong; a reason is one msgid, so one per number
    return Verdict(met=True, reason=N_("{count} indicator complete") if one else N_("{count} indicators complete"),
                   params={"count": len(inds)})


def min_days(key: str, c: MinDaysCriterion, facts: Facts, now: datetime) -> Verdict:
    # Calendar days in Europe/Amsterdam, as "met from" says: a day is a day across daylight saving.
    days = calendar_days(facts.phase_since, now)
    if days >= c.days:
        return Verdict(met=True, reason=N_("{days} days in phase (at least {needed})"),
                       params={"days": days, "needed": c.days})
    ready = calendar_day_after(facts.phase_since, c.days)
    return Verdict(met=False, reason=N_("{days} of {needed} days in phase; met from {date}"),
                   params={"days": days, "needed": c.days, "date": ready.isoformat()})


# --- the source programmes' kinds: targets, interpretation, plan, themes, parties ----------


def _programme(facts: Facts) -> ProgrammeFacts:
    return facts.programme or ProgrammeFacts()


def targets(key: str, c: TargetsCriterion, facts: Facts, now: datetime) -> Verdict:
    by_key = {i.key: i for i in facts.indicators}
    missing = [k for k in c.indicators if k not in by_key]
    if missing:
        return Verdict(met=False, reason=N_("no indicator {missing} yet (wijkflow indicator add, e.g. "
                                            "--from-catalogue)"), params={"missing": _names(missing)})
    chosen = ([by_key[k] for k in c.indicators] if c.indicators
              else [i for i in facts.indicators if i.target is not None])
    if not chosen:
        return Verdict(met=False, reason=N_("no indicator has a target (streefwaarde)"))
    no_target = [i.key for i in chosen if i.target is None]
    if no_target:
        return Verdict(met=False, reason=N_("no target for {missing}"), params={"missing": _names(no_target)})
    done = [i for i in chosen if reached(i)]
    needed = c.min_reached if c.min_reached is not None else len(chosen)
    if len(done) >= needed:
        return Verdict(met=True, reason=N_("{done} of {total} targets reached"),
                       params={"done": len(done), "total": len(chosen)})
    return Verdict(met=False, reason=N_("{done} of {needed} targets reached; not yet: {short}"),
                   params={"done": len(done), "needed": needed,
                           "short": _names([i.key for i in chosen if not reached(i)])})


def interpretation(key: str, c: Any, facts: Facts, now: datetime) -> Verdict:
    p = _programme(facts)
    if not p.interpretations:
        return Verdict(met=False,
                       reason=N_("nobody has interpreted the figures in this phase yet (wijkflow interpret)"))
    last = p.interpretations[-1]
    newest = max((i.latest_recorded_at for i in facts.indicators if i.latest_recorded_at), default=None)
    if newest is not None and newest > last.at:
        return Verdict(met=False, reason=N_("new measurements since the last interpretation; interpret the "
                                            "figures again"), person_id=last.person_id, at=last.at)
    return Verdict(met=True, reason=N_("interpreted"), person_id=last.person_id, at=last.at,
                   comment=last.conclusion)


_ANALYSIS_SHORT = {
    (True, False): N_("analysis incomplete: {strengths} of {min_strengths} strong points"),
    (False, True): N_("analysis incomplete: {bottlenecks} of {min_bottlenecks} knelpunten"),
    (True, True): N_("analysis incomplete: {strengths} of {min_strengths} strong points, {bottlenecks} of "
                     "{min_bottlenecks} knelpunten"),
}


def analysis(key: str, c: AnalysisCriterion, facts: Facts, now: datetime) -> Verdict:
    p = _programme(facts)
    params = {"strengths": p.strengths, "bottlenecks": p.bottlenecks}
    short = (p.strengths < c.min_strong_points, p.bottlenecks < c.min_bottlenecks)
    if any(short):
        return Verdict(met=False, reason=_ANALYSIS_SHORT[short],
                       params={**params, "min_strengths": c.min_strong_points,
                               "min_bottlenecks": c.min_bottlenecks})
    return Verdict(met=True, reason=N_("{strengths} strong points, {bottlenecks} knelpunten"), params=params)


def required_partners(c: AgendaCriterion, p: ProgrammeFacts) -> list[str]:
    out: dict[str, str] = {}
    for name in (*c.partners, *p.partners):
        out.setdefault(name.casefold(), name)
    return list(out.values())


# (open activities only, one per partner) -> the reason a partner has too few
_AGENDA_SHORT = {
    (False, True): N_("no activity yet for {partners}"),
    (True, True): N_("no open activity yet for {partners}"),
    (False, False): N_("no {n} activities yet for {partners}"),
    (True, False): N_("no open {n} activities yet for {partners}"),
}


def agenda(key: str, c: AgendaCriterion, facts: Facts, now: datetime) -> Verdict:
    p = _programme(facts)
    partners = required_partners(c, p)
    if not partners and c.min_per_partner:
        return Verdict(met=False, reason=N_("no partners named yet (wijkflow plan partner)"))
    live = [a for a in p.activities if (a.status in OPEN_STATUSES if c.open_only else a.status != "dropped")]
    counts = {name.casefold(): 0 for name in partners}
    for a in live:
        if a.partner.casefold() in counts:
            counts[a.partner.casefold()] += 1
    short = [name for name in partners if counts[name.casefold()] < c.min_per_partner]
    if short:
        return Verdict(met=False, reason=_AGENDA_SHORT[(c.open_only, c.min_per_partner == 1)],
                       params={"n": c.min_per_partner, "partners": _names(short)})
    if c.settled:
        if not p.activities:
            return Verdict(met=False, reason=N_("the agenda has no activities"))
        still = [f"#{a.number}" for a in p.activities if a.status in OPEN_STATUSES]
        if still:
            return Verdict(met=False, reason=N_("activities still open: {numbers}"),
                           params={"numbers": _names(still)})
        return Verdict(met=True, reason=N_("all {n} activities done or dropped"), params={"n": len(p.activities)})
    return Verdict(met=True, reason=N_("{activities} activities for {partners} partners"),
                   params={"activities": len(live), "partners": len(partners)})


def themes(key: str, c: ThemesCriterion, facts: Facts, now: datetime) -> Verdict:
    p = _programme(facts)
    full = [name for name, n in p.themes.items() if n >= c.min_results_per_theme]
    if len(full) < c.min_themes:
        short = [name for name, n in p.themes.items() if n < c.min_results_per_theme]
        params = {"full": len(full), "needed": c.min_themes, "per_theme": c.min_results_per_theme}
        if short:
            return Verdict(met=False, reason=N_("{full} of {needed} themes with at least {per_theme} intended "
                                                "result(s); no intended result yet for {short}"),
                           params={**params, "short": _names(short)})
        return Verdict(met=False, reason=N_("{full} of {needed} themes with at least {per_theme} intended "
                                            "result(s)"), params=params)
    return Verdict(met=True, reason=N_("{full} themes with intended results"), params={"full": len(full)})


def parties(key: str, c: PartiesCriterion, facts: Facts, now: datetime) -> Verdict:
    mine = {f.party: f for f in _programme(facts).parties if f.criterion == key}
    missing = [label for party, label in c.parties.items() if party not in mine]
    people = [f.person_id for f in mine.values()]
    if len(set(people)) != len(people):
        return Verdict(met=False, reason=N_("one person signed for more than one party"))
    if missing:
        return Verdict(met=False, reason=N_("{signed} of {needed} parties signed; waiting for {missing}"),
                       params={"signed": len(mine), "needed": len(c.parties), "missing": _names(missing)})
    last = max(mine.values(), key=lambda f: f.at)
    evidence = "; ".join(f"{label}: {mine[party].evidence}" for party, label in c.parties.items()
                         if mine[party].evidence)
    return Verdict(met=True, reason=N_("signed by all {n} parties"), params={"n": len(c.parties)},
                   at=last.at, evidence=evidence or None)


# --- the registry, and a gate evaluated through it --------------------------------------------

EVALUATORS: dict[str, Evaluator] = {
    "deliverable": deliverable,
    "approval": approval,
    "indicators": indicators,
    "min_days": min_days,
    "targets": targets,
    "interpretation": interpretation,
    "analysis": analysis,
    "agenda": agenda,
    "themes": themes,
    "parties": parties,
}


def evaluate_criterion(key: str, criterion: Any, facts: Facts, now: datetime) -> CriterionResult:
    """One criterion of a definition (its key and model) decided on the facts at `now`."""
    verdict = EVALUATORS[criterion.kind](key, criterion, facts, now)
    return CriterionResult(key=key, label=criterion.label, kind=criterion.kind, optional=criterion.optional,
                           met=verdict.met, reason=verdict.reason, params=verdict.params,
                           person_id=verdict.person_id, at=verdict.at, evidence=verdict.evidence,
                           comment=verdict.comment)


def evaluate(definition: Definition, transition: Transition, facts: Facts, now: datetime) -> GateResult:
    return GateResult(transition=transition,
                      criteria=tuple(evaluate_criterion(key, definition.criteria[key], facts, now)
                                     for key in transition.gate))
