"""Reading the facts a gate needs, through the store: below the services, so any layer may ask.

Only what the gates out of the current phase look at is read: most steps need just the
records; indicators and the programme facts (plan, themes, interpretations, sign-offs)
only when a criterion of such a kind is on one of those gates.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from .. import store
from ..definitions import AgendaCriterion, Definition
from .evaluators import PROGRAMME_KINDS
from .facts import (
    CALENDAR_TZ,
    ActivityFact,
    Facts,
    IndicatorFact,
    InterpretationFact,
    PartyFact,
    ProgrammeFacts,
    Record,
)

INDICATOR_KINDS = frozenset({"indicators", "targets", "interpretation"})


def load_facts(conn: sa.Connection, row: Any, definition: Definition) -> Facts:
    """The facts for the aanpak `row` (as the store reads it) on its pinned `definition`."""
    recs = tuple(
        Record(criterion=r.criterion, action=r.action, person_id=r.person_id, at=r.at,
               evidence=r.evidence, comment=r.comment)
        for r in store.records(conn, row.id, row.visit))
    kinds = definition.kinds_out_of(row.phase)
    inds: tuple[IndicatorFact, ...] = ()
    if kinds & INDICATOR_KINDS:
        # New in this visit: recorded since the phase was entered, and taken on or after that day.
        entered = row.phase_since.astimezone(CALENDAR_TZ).date()
        inds = tuple(IndicatorFact(key=i.key, label=i.label, has_baseline=i.baseline is not None,
                                   measurements=len(ms), direction=i.direction, baseline=i.baseline,
                                   target=i.target, latest=ms[-1].value if ms else None,
                                   latest_recorded_at=max((m.at for m in ms), default=None),
                                   recent=sum(1 for m in ms if m.at >= row.phase_since
                                              and m.measured_on >= entered))
                     for i, ms in store.indicator_facts(conn, row.id))
    programme = programme_facts(conn, row, definition) if kinds & PROGRAMME_KINDS else None
    return Facts(phase=row.phase, phase_since=row.phase_since, records=recs, indicators=inds,
                 programme=programme)


def programme_facts(conn: sa.Connection, row: Any, definition: Definition) -> ProgrammeFacts:
    points = store.plan_points(conn, row.id)
    return ProgrammeFacts(
        interpretations=tuple(InterpretationFact(person_id=i.person_id, conclusion=i.conclusion, at=i.at)
                              for i in store.interpretations(conn, row.id, row.visit)),
        strengths=sum(1 for p in points if p.kind == "strength"),
        bottlenecks=sum(1 for p in points if p.kind == "bottleneck"),
        partners=tuple(known_partners(conn, row.id, definition).values()),
        activities=tuple(ActivityFact(number=a.number, partner=a.partner, year=a.year, status=a.status)
                         for a in store.activities(conn, row.id)),
        themes={t.label: len(results) for t, results in store.themes(conn, row.id)},
        parties=tuple(PartyFact(criterion=p.criterion, party=p.party, person_id=p.person_id, at=p.at,
                                evidence=p.evidence)
                      for p in store.party_approvals(conn, row.id, row.visit)),
    )


def definition_partners(definition: Definition) -> list[str]:
    """The partners the definition itself names, on its agenda criteria."""
    return [p for c in definition.criteria.values() if isinstance(c, AgendaCriterion) for p in c.partners]


def known_partners(conn: sa.Connection, aanpak_id: int, definition: Definition) -> dict[str, str]:
    """casefolded name -> name as first written, the definition's first, then the aanpak's own."""
    out: dict[str, str] = {}
    for name in [*definition_partners(definition), *(p.name for p in store.plan_partners(conn, aanpak_id))]:
        out.setdefault(name.casefold(), name)
    return out
