"""Gates: the facts a gate is decided on, one evaluator per criterion kind, and the verdict.

    facts      Facts and its parts (records, indicators, programme facts): frozen data
    load       load_facts(conn, row, definition): the facts read through the store
    evaluators one function per criterion kind in EVALUATORS (keyed by kind); evaluate()
    result     CriterionResult (.why in English, .why_in(locale)) and GateResult

Gates sit below the services: they read through `wijkflow.store` and never import a service.
"""

from __future__ import annotations

from .evaluators import EVALUATORS, PROGRAMME_KINDS, Evaluator, evaluate, evaluate_criterion, required_partners
from .facts import (
    OPEN_STATUSES,
    ActivityFact,
    Facts,
    IndicatorFact,
    InterpretationFact,
    PartyFact,
    ProgrammeFacts,
    Record,
    calendar_days,
    reached,
)
from .load import definition_partners, known_partners, load_facts
from .result import CriterionResult, GateResult, Verdict, snapshot_why

__all__ = [
    "EVALUATORS", "OPEN_STATUSES", "PROGRAMME_KINDS", "ActivityFact", "CriterionResult", "Evaluator", "Facts",
    "GateResult", "IndicatorFact", "InterpretationFact", "PartyFact", "ProgrammeFacts", "Record", "Verdict",
    "calendar_days", "definition_partners", "evaluate", "evaluate_criterion", "known_partners", "load_facts", "reached",
    "required_partners", "snapshot_why",
]
