"""Bad input on indicators, plans, themes and multi-party sign-off: one sentence, the right
exit code, and nothing written."""

import pytest
from conftest import PL, SG1, SG2, WR

from wijkflow import store
from wijkflow.definitions import load_text
from wijkflow.errors import DefinitionError


def events(app):
    with app.db.read() as conn:
        return store.count_events(conn)


@pytest.fixture
def with_indicator(run, aanpak):
    r = run("indicator", "add", aanpak, "actieve_bewoners", "--from-catalogue", "--baseline", "12",
            "--baseline-date", "2026-01-01", "--target", "20", "--target-date", "2027-12-31", user=PL)
    assert r.exit_code == 0, r.stderr
    assert r.stdout == "Added indicator actieve_bewoners (Inwoners actief in de wijk) to wijkaanpak-noord.\n"
    return aanpak


@pytest.mark.parametrize("args, code, message", [
    (("onbekend", "3"), 4, "Wijkaanpak Noord has no indicator 'onbekend' (known: actieve_bewoners)."),
    (("actieve_bewoners", "veel"), 2, "The value 'veel' is not a number."),
    (("actieve_bewoners", "nan"), 2, "The value 'nan' is not a number."),
    (("actieve_bewoners", "14", "--date", "2025-12-31"), 2,
     "The measurement date 2025-12-31 lies before the baseline of 'actieve_bewoners' (2026-01-01)."),
    (("actieve_bewoners", "14", "--date", "2026-03-03"), 2, "The measurement date 2026-03-03 lies in the future."),
])
def test_bad_measurement_is_refused_and_nothing_is_written(run, app, with_indicator, args, code, message):
    before = events(app)
    r = run("measure", with_indicator, *args, user=WR)
    assert (r.exit_code, r.stderr) == (code, f"Error: {message}\n")
    assert events(app) == before


@pytest.mark.parametrize("args, code, message", [
    (("--label", "X", "--baseline", "5", "--baseline-date", "2026-04-01"), 2,
     "The baseline date 2026-04-01 lies in the future."),
    (("--label", "X", "--baseline", "5", "--baseline-date", "2026-01-01", "--target", "8",
      "--target-date", "2025-12-01"), 2, "The target date 2025-12-01 must come after the baseline date 2026-01-01."),
    (("--label", "X", "--target-date", "2027-01-01"), 2, "A target date needs a target value (--target)."),
    (("--label", "X", "--baseline", "8", "--target", "6"), 2,
     "The target 6 must lie above the baseline 8, because higher is better for 'x' "
     "(use --direction to say otherwise)."),
    (("--from-catalogue",), 4, None),
    ((), 2, "Indicator 'x' needs a --label (or --from-catalogue for a catalogue key)."),
])
def test_bad_indicator_is_refused(run, app, aanpak, args, code, message):
    before = events(app)
    r = run("indicator", "add", aanpak, "x", *args, user=PL)
    assert r.exit_code == code
    if message:
        assert r.stderr == f"Error: {message}\n"
    else:
        assert r.stderr.startswith("Error: The indicator catalogue has no 'x' (see `wijkflow indicator catalogue`")
    assert events(app) == before


def test_catalogue_lists_the_succesindicatoren_of_the_sources(run):
    r = run("indicator", "catalogue")
    assert r.exit_code == 0
    for key in ("actieve_bewoners", "veiligheidsbeleving", "leefbaarometer", "ontmoetingsplekken"):
        assert key in r.stdout
    assert "Hengelo, succesindicatoren (seed 004)" in r.stdout


def test_interpretation_needs_figures_and_known_indicators(run, app, aanpak):
    r = run("interpret", aanpak, "--conclusion", "Het gaat goed.", user=PL)
    assert (r.exit_code, r.stderr) == (2, "Error: Wijkaanpak Noord has no indicators yet, so there are no figures "
                                          "to interpret.\n")
    run("indicator", "add", aanpak, "veiligheidsbeleving", "--from-catalogue", "--baseline", "6.1", user=PL)
    r = run("interpret", aanpak, "--indicator", "overlast", "--conclusion", "Rustig.", user=PL)
    assert (r.exit_code, r.stderr) == (4, "Error: Wijkaanpak Noord has no indicator 'overlast' "
                                          "(known: veiligheidsbeleving).\n")
    r = run("interpret", aanpak, "--conclusion", "  ", user=PL)
    assert (r.exit_code, r.stderr) == (2, "Error: The conclusion may not be empty.\n")
    r = run("interpret", aanpak, "--conclusion", "Ik vind er wat van.", user="admin@hengelo.example")
    assert r.exit_code == 5


@pytest.fixture
def plan_aanpak(run, people):
    r = run("new", "WOP Coevering", "--wijk", "Coevering", "--workflow", "wijkontwikkelingsplan", "--leader", PL,
            "--coordinator", WR, "--approver", SG1, user=PL)
    assert r.exit_code == 0, r.stderr
    return "wop-coevering"


def test_activity_for_an_unknown_partner_is_refused(run, app, plan_aanpak):
    before = events(app)
    r = run("plan", "activity", plan_aanpak, "Buurtkamer", "--partner", "Woonbedrijf", "--year", "2026", user=WR)
    assert r.exit_code == 4
    assert r.stderr == ("Error: 'Woonbedrijf' is not a partner of WOP Coevering (partners: Gemeente, Bewoners); "
                        "add it first with `wijkflow plan partner wop-coevering \"Woonbedrijf\"`.\n")
    assert events(app) == before
    assert run("plan", "partner", plan_aanpak, "Woonbedrijf", user=PL).exit_code == 0
    r = run("plan", "partner", plan_aanpak, "woonbedrijf", user=PL)
    assert (r.exit_code, r.stderr) == (6, "Error: Woonbedrijf is already a partner of WOP Coevering; "
                                          "nothing was changed.\n")
    assert run("plan", "activity", plan_aanpak, "Buurtkamer", "--partner", "Woonbedrijf", "--year", "2026",
               user=WR).exit_code == 0


@pytest.mark.parametrize("args, code, message", [
    (("activity", "X", "--partner", "Gemeente", "--year", "volgend jaar"), 2,
     "'volgend jaar' is not a planned year; use a year such as 2027."),
    (("activity", "X", "--partner", "Gemeente", "--year", "2026", "--status", "bezig"), 2, None),
    (("update", "7", "--status", "done"), 4, "WOP Coevering has no activity #7 (see `wijkflow plan show "
                                             "wop-coevering`)."),
    (("update", "1"), 2, "Say what changes: --status, --year and/or --partner."),
    (("analyse",), 2, "Give at least one --strong or --bottleneck point."),
])
def test_bad_plan_input_is_refused(run, app, plan_aanpak, args, code, message):
    before = events(app)
    r = run("plan", args[0], plan_aanpak, *args[1:], user=WR)
    assert r.exit_code == code
    if message:
        assert r.stderr == f"Error: {message}\n"
    assert events(app) == before


def test_plan_needs_a_role_on_the_aanpak(run, plan_aanpak):
    r = run("plan", "analyse", plan_aanpak, "--strong", "Groen", user=SG2)
    assert r.exit_code == 5


def test_lokaal_contract_is_signed_by_each_party_once_by_different_people(run, app, aanpak):
    # Hengelo's lokaal contract: optional in the default definition, so existing walks are unchanged.
    r = run("approve", aanpak, "lokaal_contract_ondertekend", "--party", "gemeente", "--evidence",
            "Lokaal contract, getekend 2026-03-01", user=SG2)
    assert r.exit_code == 0, r.stderr
    before = events(app)
    r = run("approve", aanpak, "lokaal_contract_ondertekend", "--party", "woningcorporatie", "--evidence",
            "Lokaal contract", user=SG2)
    assert r.exit_code == 5
    assert r.stderr == ("Error: You already signed 'lokaal_contract_ondertekend' for Gemeente; each party must be "
                        "represented by a different person.\n")
    r = run("approve", aanpak, "lokaal_contract_ondertekend", "--party", "Gemeente", "--evidence",
            "Lokaal contract", user=SG1)
    assert r.exit_code == 6
    assert r.stderr == ("Error: Gemeente already signed 'lokaal_contract_ondertekend' (Jennifer Havinga, "
                        "2026-03-02); nothing was changed.\n")
    r = run("approve", aanpak, "lokaal_contract_akkoord", "--party", "gemeente", user=SG1)
    assert r.exit_code == 2
    assert "is not signed per party" in r.stderr
    assert events(app) == before
    r = run("gate", aanpak)
    assert ("[-] Lokaal contract ondertekend door alle partijen [lokaal_contract_ondertekend] (optional): "
            "1 of 4 parties signed; waiting for Bewoners, Partners, Woningcorporatie") in r.stdout


def test_theme_filter_and_links_refuse_empty_or_repeated_input(run, aanpak):
    assert run("theme", "add", aanpak, "Gezonde wijk", user=PL).exit_code == 0
    r = run("theme", "add", aanpak, "gezonde wijk", user=PL)
    assert (r.exit_code, r.stderr) == (6, "Error: Wijkaanpak Noord is already linked to Gezonde wijk; add intended "
                                          "results with --result.\n")
    r = run("list", "--theme", " ")
    assert (r.exit_code, r.stderr) == (2, "Error: --theme may not be empty.\n")
    assert "wijkaanpak-noord" in run("list", "--theme", "Gezonde Wijk").stdout


@pytest.mark.parametrize("criterion, problem", [
    ("kind: parties\n    label: Tafel\n    parties: {sociaal: Sociaal}",
     "line 8 (criteria.tafel.parties): Dictionary should have at least 2 items after validation, not 1"),
    ("kind: themes\n    label: T\n    choices: {Inclusief Arnhem: x}",
     "line 8 (criteria.tafel.choices.Inclusief Arnhem"),
    ("kind: targets\n    label: T\n    min_reached: 0",
     "line 8 (criteria.tafel.min_reached): Input should be greater than or equal to 1"),
])
def test_definition_errors_in_new_criterion_kinds_name_the_line(criterion, problem):
    text = ("name: x\nversion: 1\nlabel: X\ncriteria:\n  tafel:\n    " + criterion + "\n"
            "phases:\n  - {key: a, label: A}\n  - {key: b, label: B, final: true}\n"
            "transitions:\n  - {source: a, dest: b, label: go, gate: [tafel]}\n")
    with pytest.raises(DefinitionError) as err:
        load_text(text, file="x.yaml")
    assert problem in str(err.value)


def test_indicator_set_refuses_a_baseline_after_measurements_and_empty_changes(run, app, with_indicator, clock):
    assert run("measure", with_indicator, "actieve_bewoners", "13", "--date", "2026-02-01", user=WR).exit_code == 0
    before = events(app)
    r = run("indicator", "set", with_indicator, "actieve_bewoners", "--baseline", "12.5", "--baseline-date",
            "2026-02-10", user=WR)
    assert (r.exit_code, r.stderr) == (2, "Error: The baseline date 2026-02-10 lies after the measurement of "
                                          "2026-02-01.\n")
    r = run("indicator", "set", with_indicator, "actieve_bewoners", user=WR)
    assert (r.exit_code, r.stderr) == (2, "Error: Say what changes: --baseline, --baseline-date, --target and/or "
                                          "--target-date.\n")
    r = run("indicator", "set", with_indicator, "actieve_bewoners", "--target", "10", user=WR)
    assert (r.exit_code, r.stderr) == (2, "Error: The target 10 must lie above the baseline 12, because higher is "
                                          "better for 'actieve_bewoners'.\n")
    r = run("indicator", "set", with_indicator, "onbekend", "--target", "10", user=WR)
    assert r.exit_code == 4
    assert events(app) == before
