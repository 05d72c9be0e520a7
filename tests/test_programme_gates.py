"""The programme criteria as pure functions: facts in, a verdict with its reason out."""

from datetime import UTC, datetime, timedelta

import pytest

from wijkflow.definitions import (
    AgendaCriterion,
    InterpretationCriterion,
    PartiesCriterion,
    TargetsCriterion,
    ThemesCriterion,
)
from wijkflow.gates import (
    ActivityFact,
    Facts,
    IndicatorFact,
    InterpretationFact,
    PartyFact,
    ProgrammeFacts,
    evaluate_criterion,
)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def ind(key, direction, baseline, target, latest, recorded=T0):
    return IndicatorFact(key=key, label=key, has_baseline=baseline is not None, measurements=1 if latest else 0,
                         direction=direction, baseline=baseline, target=target, latest=latest,
                         latest_recorded_at=recorded if latest is not None else None)


def verdict(criterion, indicators=(), **programme):
    facts = Facts(phase="monitor", phase_since=T0, indicators=tuple(indicators),
                  programme=ProgrammeFacts(**programme))
    r = evaluate_criterion("c", criterion, facts, T0)
    return r.met, r.why


@pytest.mark.parametrize("direction, latest, met", [
    ("lower", 25, True), ("lower", 26, False), ("higher", 25, False), ("higher", 41, True)])
def test_target_reached_respects_which_way_is_better(direction, latest, met):
    target = 25 if direction == "lower" else 41
    c = TargetsCriterion(kind="targets", label="T")
    assert verdict(c, [ind("x", direction, 40, target, latest)])[0] is met


def test_targets_can_name_catalogue_indicators_and_a_minimum():
    inds = [ind("a", "higher", 1, 2, 2), ind("b", "higher", 1, 2, 1)]
    assert verdict(TargetsCriterion(kind="targets", label="T", min_reached=1), inds) == (
        True, "1 of 2 targets reached")
    assert verdict(TargetsCriterion(kind="targets", label="T"), inds) == (
        False, "1 of 2 targets reached; not yet: b")
    assert verdict(TargetsCriterion(kind="targets", label="T", indicators=("actieve_bewoners",)), inds) == (
        False, "no indicator actieve_bewoners yet (wijkflow indicator add, e.g. --from-catalogue)")
    assert verdict(TargetsCriterion(kind="targets", label="T"), [ind("a", "higher", 1, None, 2)]) == (
        False, "no indicator has a target (streefwaarde)")


def test_interpretation_goes_stale_when_new_figures_arrive():
    c = InterpretationCriterion(kind="interpretation", label="I")
    judged = (InterpretationFact(person_id=3, conclusion="ok", at=T0 + timedelta(hours=1)),)
    assert verdict(c, [ind("a", "higher", 1, 2, 2)], interpretations=judged)[0] is True
    later = [ind("a", "higher", 1, 2, 2, recorded=T0 + timedelta(hours=2))]
    assert verdict(c, later, interpretations=judged) == (
        False, "new measurements since the last interpretation; interpret the figures again")


def test_agenda_counts_live_activities_per_partner_and_settles():
    acts = (ActivityFact(1, "Gemeente", 2026, "done"), ActivityFact(2, "bewoners", 2026, "running"),
            ActivityFact(3, "Woonbedrijf", 2026, "dropped"))
    partners = ("Gemeente", "Bewoners", "Woonbedrijf")
    assert verdict(AgendaCriterion(kind="agenda", label="A"), partners=partners, activities=acts) == (
        False, "no activity yet for Woonbedrijf")
    assert verdict(AgendaCriterion(kind="agenda", label="A", open_only=True), partners=partners,
                   activities=acts) == (False, "no open activity yet for Gemeente, Woonbedrijf")
    assert verdict(AgendaCriterion(kind="agenda", label="A", min_per_partner=0, settled=True), partners=partners,
                   activities=acts) == (False, "activities still open: #2")
    assert verdict(AgendaCriterion(kind="agenda", label="A"), activities=acts) == (
        False, "no partners named yet (wijkflow plan partner)")


def test_themes_need_intended_results():
    c = ThemesCriterion(kind="themes", label="T", min_themes=2)
    assert verdict(c, themes={"Circulair Arnhem": 2, "Zorg dichterbij": 0}) == (
        False, "1 of 2 themes with at least 1 intended result(s); no intended result yet for Zorg dichterbij")


def test_parties_need_every_party_by_different_people():
    c = PartiesCriterion(kind="parties", label="P", parties={"sociaal": "Sociaal", "fysiek": "Fysiek"})
    one = (PartyFact("c", "sociaal", 1, T0, "besluit"),)
    assert verdict(c, parties=one) == (False, "1 of 2 parties signed; waiting for Fysiek")
    same = one + (PartyFact("c", "fysiek", 1, T0, "besluit"),)
    assert verdict(c, parties=same) == (False, "one person signed for more than one party")
    other_criterion = one + (PartyFact("other", "fysiek", 2, T0, "besluit"),)
    assert verdict(c, parties=other_criterion)[0] is False
    both = one + (PartyFact("c", "fysiek", 2, T0, "besluit"),)
    assert verdict(c, parties=both) == (True, "signed by all 2 parties")
