"""`audit query`, `audit phases` and `show --as-of`: what an auditor asks of the history."""

from __future__ import annotations

import csv
import io
import json

import pytest
from conftest import ADMIN, PL, SG1, SG2, WR

from wijkflow import services

INITIATE = ("coalitie", "analyse_visie", "lokaal_contract", "instrumenten_financiering")
DESIGN = ("uitvoeringsprogramma", "organisatiestructuur", "participatiestructuur", "teams", "monitoringplan")


@pytest.fixture
def to_execute(app, aanpak, clock) -> str:
    """Noord through initiate (30 days) and design (45 days) into execute; Zuid created 10 days in."""
    clock.forward(10)
    services.create_aanpak(app, "Wijkaanpak Zuid", wijk="Zuid", gemeente="Hengelo", leader=PL, acting=PL)
    clock.forward(20)
    for key in INITIATE:
        services.complete(app, aanpak, key, evidence=f"{key}.pdf", acting=PL)
    services.approve(app, aanpak, "lokaal_contract_akkoord", comment="akkoord stuurgroep", acting=SG1)
    services.advance(app, aanpak, acting=PL, reason="contract getekend")
    clock.forward(45)
    for key in DESIGN:
        services.complete(app, aanpak, key, evidence=f"{key}.pdf", acting=PL)
    services.add_indicator(app, aanpak, "bewoners", label="Actieve bewoners", baseline=40, target=120, acting=WR)
    services.approve(app, aanpak, "programma_akkoord", comment="vastgesteld", acting=SG2)
    services.advance(app, aanpak, acting=PL, reason="programma vastgesteld")
    return aanpak


def test_who_moved_it_to_execute_when_on_what_evidence_and_who_approved(run, to_execute):
    r = run("audit", "query", "--aanpak", to_execute, "--type", "phase_changed", "--phase", "execute")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["#", "When", "Aanpak", "Type", "Who", "What"]
    move = next(line for line in lines if "phase_changed" in line)
    assert "2026-05-16 10:00" in move  # summer time by then: 08:00 UTC
    assert "Fleur Mensink" in move and "Ontwerpen -> Uitvoeren" in move
    assert "[x] Uitvoeringsprogramma [uitvoeringsprogramma]: completed by Fleur Mensink on 2026-05-16" in r.stdout
    assert "evidence: uitvoeringsprogramma.pdf" in r.stdout
    assert ("[x] Uitvoeringsprogramma vastgesteld door de stuurgroep [programma_akkoord]: approved by "
            "Jennifer Havinga on 2026-05-16") in r.stdout
    assert "Initiëren -> Ontwerpen" not in r.stdout  # that move neither enters nor leaves execute


def test_csv_export_of_everything_has_one_row_per_event(run, to_execute, app):
    r = run("audit", "query", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    with app.db.read() as conn:
        from wijkflow import store

        assert len(rows) == store.count_events(conn)
    assert [int(x["id"]) for x in rows] == list(range(1, len(rows) + 1))
    move = next(x for x in rows if x["type"] == "phase_changed" and x["to_phase"] == "execute")
    assert move["actor_email"] == PL and move["reason"] == "programma vastgesteld"
    assert "programma_akkoord: met by Jennifer Havinga" in move["gate"]
    assert len(move["hash"]) == 64


def test_json_and_jsonl_carry_the_same_events(run, to_execute):
    as_json = json.loads(run("audit", "query", "--wijk", "noord", "--format", "json").stdout)
    as_jsonl = [json.loads(line) for line in run("audit", "query", "--wijk", "Noord", "--format", "jsonl")
                .stdout.splitlines()]
    assert as_json == as_jsonl
    assert {e["wijk"] for e in as_json} == {"Noord"}
    assert json.loads(run("audit", "query", "--type", "gate_overridden", "--format", "json").stdout) == []


def test_filters_by_actor_type_and_dates(run, to_execute):
    approvals = json.loads(run("audit", "query", "--actor", SG1, "--format", "json").stdout)
    assert [(e["type"], e["payload"]["criterion"]) for e in approvals] == [
        ("criterion_approved", "lokaal_contract_akkoord")]
    day = json.loads(run("audit", "query", "--since", "2026-04-01", "--until", "2026-04-01", "--format",
                         "json").stdout)
    assert {e["type"] for e in day} == {"criterion_completed", "criterion_approved", "phase_changed"}
    assert {e["at"][:10] for e in day} == {"2026-04-01"}
    both = json.loads(run("audit", "query", "--type", "aanpak_created", "--type", "phase_changed",
                          "--format", "json").stdout)
    assert [e["type"] for e in both] == ["aanpak_created", "aanpak_created", "phase_changed", "phase_changed"]


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--since", "2026-02-30"], 2, "'2026-02-30' is not a valid --since date: that day does not exist."),
    (["--until", "01-03-2026"], 2, "'01-03-2026' is not a valid --until date; use YYYY-MM-DD, e.g. 2026-03-01."),
    (["--since", "2026-05-01", "--until", "2026-04-01"], 2,
     "--since 2026-05-01 lies after --until 2026-04-01; nothing can match."),
    (["--since", "2026-13-45T25:00"], 2, "'2026-13-45T25:00' is not a valid --since date; use YYYY-MM-DD or an "
                                          "ISO date-time such as 2026-03-01T09:00."),
    (["--aanpak", "wijkaanpak-west"], 4, "No wijkaanpak 'wijkaanpak-west' (use its number or slug; "
                                         "`wijkflow list` shows them)."),
    (["--wijk", "West"], 4, "No wijkaanpak is in wijk 'West' (`wijkflow list` shows the wijken)."),
    (["--gemeente", "Enschede"], 4, "No wijkaanpak is in gemeente 'Enschede' (`wijkflow list` shows them)."),
    # A Dutch label is accepted (`--phase uitvoeren`); what is neither key nor label is refused with both.
    (["--phase", "bijsturen"], 4, "No workflow in this database has a phase 'bijsturen' (phases: closed (Afgesloten), "
                                  "design (Ontwerpen), evaluate (Evalueren"),
    (["--actor", "nobody@hengelo.example"], 4, "No person with email nobody@hengelo.example (a forgotten person "
                                              "is found by number: --actor 12)."),
    (["--actor", "Fleur"], 2, "--actor 'Fleur' is neither an email address nor a person number."),
    (["--type", "phase_change"], 2, "Unknown event type 'phase_change'; use one of aanpak_created, "),
])
def test_bad_filters_fail_with_one_sentence_and_no_output(run, to_execute, args, code, message):
    for fmt in ("table", "csv"):
        r = run("audit", "query", *args, "--format", fmt)
        assert r.exit_code == code
        assert r.stderr.startswith(f"Error: {message}")
        assert r.stdout == ""


def test_a_forgotten_actor_is_found_by_number_and_shown_without_name(run, app, to_execute):
    services.forget_person(app, SG1, acting=ADMIN)
    rows = json.loads(run("audit", "query", "--actor", "5", "--format", "json").stdout)
    assert rows and all(e["actor"] == {"id": 5, "email": None, "name": "(forgotten person)"} for e in rows)


def test_phases_per_aanpak_and_portfolio_median_p90(run, to_execute, clock):
    r = run("audit", "phases", "--format", "json")
    data = json.loads(r.stdout)
    noord = next(a for a in data["aanpakken"] if a["wijk"] == "Noord")
    assert [(p["phase"], p["days"], p["current"]) for p in noord["phases"]] == [
        ("initiate", 30.0, False), ("design", 45.0, False), ("execute", 0.0, True)]
    initiate = next(p for p in data["portfolio"] if p["phase"] == "initiate")
    assert initiate == {"phase": "initiate", "label": "Initiëren", "stays": 1, "median_days": 30.0,
                        "p90_days": 30.0, "ongoing": 1}
    text = run("audit", "phases").stdout
    assert "Portfolio:" in text and "Median days" in text


def test_phase_statistics_over_several_stays():
    from wijkflow.services.audit import _percentile

    values = [10.0, 20.0, 30.0, 40.0, 100.0]
    assert _percentile(values, 50) == 30.0
    assert _percentile(values, 90) == pytest.approx(76.0)
    assert _percentile([7.0], 90) == 7.0


def test_show_as_of_rebuilds_the_state_from_the_history(run, app, aanpak, clock):
    for key in INITIATE[:2]:
        services.complete(app, aanpak, key, evidence=f"{key}.pdf", acting=PL)
    then = json.loads(run("show", aanpak, "--format", "json").stdout)
    clock.forward(3)
    for key in INITIATE[2:]:
        services.complete(app, aanpak, key, evidence=f"{key}.pdf", acting=PL)
    services.approve(app, aanpak, "lokaal_contract_akkoord", acting=SG1)
    services.advance(app, aanpak, acting=PL)
    services.assign_role(app, aanpak, ADMIN, role="coordinator", acting=PL)
    past = json.loads(run("show", aanpak, "--as-of", "2026-03-02", "--format", "json").stdout)
    assert past["as_of"] == "2026-03-02"
    assert past["phase"] == then["phase"] == "initiate"
    assert past["people"] == then["people"]  # the coordinator added later is not there
    strip = [[{k: c[k] for k in ("key", "met", "by", "evidence")} for c in g["criteria"]] for g in past["gates"]]
    assert strip == [[{k: c[k] for k in ("key", "met", "by", "evidence")} for c in g["criteria"]]
                     for g in then["gates"]]
    now = json.loads(run("show", aanpak, "--as-of", "2026-03-05", "--format", "json").stdout)
    assert now["phase"] == "design" and len(now["people"]) == len(then["people"]) + 1
    text = run("show", aanpak, "--as-of", "2026-03-02").stdout
    assert "As of: 2026-03-02" in text and "2/6 criteria met" in text


@pytest.mark.parametrize(("day", "code", "message"), [
    ("2026-03-01", 4, "Wijkaanpak Noord did not exist yet on 2026-03-01 (its history starts 2026-03-02)."),
    ("2026-04-01", 2, "--as-of 2026-04-01 lies in the future; the history only knows the past."),
    ("2026-02-29", 2, "'2026-02-29' is not a valid --as-of date: that day does not exist."),
])
def test_show_as_of_refuses_days_it_cannot_answer(run, aanpak, day, code, message):
    r = run("show", aanpak, "--as-of", day)
    assert (r.exit_code, r.stderr) == (code, f"Error: {message}\n")


def test_the_auditor_question_through_the_installed_command(sh, to_execute):
    r = sh("audit", "query", "--aanpak", to_execute, "--type", "phase_changed", "--phase", "execute",
           "--format", "jsonl")
    assert r.returncode == 0, r.stderr
    (move,) = [json.loads(line) for line in r.stdout.splitlines()]
    assert (move["actor"]["email"], move["from_phase"], move["to_phase"]) == (PL, "design", "execute")
    approval = next(c for c in move["gate"] if c["key"] == "programma_akkoord")
    assert approval["met"] and approval["by"]["email"] == SG2 and approval["comment"] == "vastgesteld"


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--wijk", "West"], 4, "No wijkaanpak matches wijk 'West'."),
    (["--aanpak", "nope"], 4, "No wijkaanpak 'nope' (use its number or slug; `wijkflow list` shows them)."),
])
def test_phases_with_unknown_values(run, to_execute, args, code, message):
    r = run("audit", "phases", *args)
    assert (r.exit_code, r.stderr, r.stdout) == (code, f"Error: {message}\n", "")


def _comparable(a: dict) -> dict:
    """What must be identical between the live state and the state rebuilt from history.

    min_days criteria and day counts depend on the hour of asking (live: 09:00; as-of: the end
    of the day), so they are left out.
    """
    return {"phase": a["phase"], "people": a["people"], "deadlines": a["deadlines"], "indicators": a["indicators"],
            "gates": [(g["to"], [(c["key"], c["met"], c["by"], c["evidence"], c["comment"]) for c in g["criteria"]
                                 if c["kind"] != "min_days"]) for g in a["gates"]]}


def test_as_of_every_day_of_a_lifecycle_with_a_loop_back_equals_what_show_said_that_day(app, aanpak, clock):
    from wijkflow.services.asof import show_as_of

    said: dict[str, dict] = {}

    def end_of_day() -> None:
        said[clock.now.astimezone(app.tz).date().isoformat()] = _comparable(services.show_aanpak(app, aanpak))
        clock.forward(1)

    end_of_day()
    services.complete(app, aanpak, "coalitie", evidence="convenant.pdf", acting=PL)
    services.set_deadline(app, aanpak, "lokaal_contract", "2026-04-01", acting=PL)
    end_of_day()
    for key in INITIATE[1:]:
        services.complete(app, aanpak, key, evidence=f"{key}.pdf", acting=PL)
    services.approve(app, aanpak, "lokaal_contract_akkoord", comment="akkoord", acting=SG1)
    services.advance(app, aanpak, acting=PL)
    end_of_day()
    for key in DESIGN:
        services.complete(app, aanpak, key, evidence=f"{key}.pdf", acting=PL)
    services.add_indicator(app, aanpak, "bewoners", label="Actieve bewoners", baseline=40, target=120, acting=WR)
    services.approve(app, aanpak, "programma_akkoord", acting=SG2)
    services.advance(app, aanpak, acting=PL)
    end_of_day()
    clock.forward(95)
    services.complete(app, aanpak, "maatregelen_gestart", evidence="gestart", acting=PL)
    services.advance(app, aanpak, acting=PL)
    end_of_day()
    services.complete(app, aanpak, "monitoringsrapportage", evidence="Q2", acting=PL)
    services.complete(app, aanpak, "bijsturingsvoorstel", evidence="extra jongerenwerk", acting=PL)
    services.approve(app, aanpak, "bijsturing_akkoord", comment="bijsturen", acting=SG1)
    services.advance(app, aanpak, acting=PL, to="execute", reason="bijsturen")
    end_of_day()
    services.assign_role(app, aanpak, ADMIN, role="coordinator", acting=PL)
    services.complete(app, aanpak, "maatregelen_gestart", evidence="jongerenwerk gestart", acting=PL)
    services.measure(app, aanpak, "bewoners", 55, acting=WR)
    end_of_day()

    assert len(said) == 7
    for day, live in said.items():
        assert _comparable(show_as_of(app, aanpak, day)) == live, day
