"""Reading the programme facts (plan, themes, interpretations, party sign-offs) for a gate."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from .. import store
from ..programme_gates import ActivityFact, InterpretationFact, PartyFact, ProgrammeFacts


def programme_facts(conn: sa.Connection, ctx: Any) -> ProgrammeFacts:
    from .plan import known_partners

    row = ctx.row
    points = store.plan_points(conn, row.id)
    return ProgrammeFacts(
        interpretations=tuple(InterpretationFact(person_id=i.person_id, conclusion=i.conclusion, at=i.at)
                              for i in store.interpretations(conn, row.id, row.visit)),
        strengths=sum(1 for p in points if p.kind == "strength"),
        bottlenecks=sum(1 for p in points if p.kind == "bottleneck"),
        partners=tuple(known_partners(conn, ctx).values()),
        activities=tuple(ActivityFact(number=a.number, partner=a.partner, year=a.year, status=a.status)
                         for a in store.activities(conn, row.id)),
        themes={t.label: len(results) for t, results in store.themes(conn, row.id)},
        parties=tuple(PartyFact(criterion=p.criterion, party=p.party, person_id=p.person_id, at=p.at,
                                evidence=p.evidence)
                      for p in store.party_approvals(conn, row.id, row.visit)),
    )
