"""The gated lifecycle through the Python API: what users rely on, and the invariants."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from conftest import ADMIN, AUDITOR, PL, SG1, SG2, WR

from wijkflow import engine, services, store
from wijkflow.errors import Conflict, GateNotMet, InvalidInput, NotAllowed, NotFound
from wijkflow.services.common import actor, facts, load

INITIATE = ("coalitie", "analyse_visie", "lokaal_contract", "instrumenten_financiering")
DESIGN = ("uitvoeringsprogramma", "organisatiestructuur", "participatiestructuur", "teams", "monitoringplan")


def walk_initiate(app, ref):
    for key in INITIATE:
        services.complete(app, ref, key, evidence=f"{key}.pdf", acting=PL)
    services.approve(app, ref, "lokaal_contract_akkoord", acting=SG1)
    return services.advance(app, ref, acting=PL)


def walk_design(app, ref):
    for key in DESIGN:
        services.complete(app, ref, key, evidence=f"{key}.pdf", acting=PL)
    services.add_indicator(app, ref, "veiligheid", label="Veiligheidsbeleving", baseline="5,9", target=7,
                           acting=WR)
    services.approve(app, ref, "programma_akkoord", acting=SG2)
    return services.advance(app, ref, acting=PL)


def counts(app):
    with app.db.read() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in ("audit_event", "criterion_record", "aanpak", "measurement", "indicator")}


def test_whole_lifecycle_with_bijsturen_loop_ends_closed(app, aanpak, clock):
    assert walk_initiate(app, aanpak)["to"] == "design"
    assert walk_design(app, aanpak)["to"] == "execute"
    services.complete(app, aanpak, "maatregelen_gestart", evidence="gestart", acting=PL)
    with pytest.raises(GateNotMet) as refused:
        services.advance(app, aanpak, acting=PL)
    assert [c.key for c in refused.value.unmet] == ["uitvoering_minimaal_3_maanden"]
    assert refused.value.unmet[0].why == "0 of 90 days in phase; met from 2026-05-31"
    clock.forward(90)
    services.advance(app, aanpak, acting=PL)
    services.measure(app, aanpak, "veiligheid", "5.7", acting=WR)
    for key in ("monitoringsrapportage", "bijsturingsvoorstel"):
        services.complete(app, aanpak, key, evidence="rapport", acting=PL)
    services.approve(app, aanpak, "bijsturing_akkoord", acting=SG1)
    assert services.advance(app, aanpak, acting=PL, to="execute", reason="bijsturen")["to"] == "execute"
    # A new visit of execute: its deliverable must be delivered again, and 90 days must pass again.
    gate = services.gate_status(app, aanpak)
    assert [c["met"] for c in gate["criteria"]] == [False, False]
    clock.forward(91)
    services.complete(app, aanpak, "maatregelen_gestart", evidence="opnieuw", acting=PL)
    services.advance(app, aanpak, acting=PL)
    services.measure(app, aanpak, "veiligheid", "6.9", acting=WR)
    services.complete(app, aanpak, "monitoringsrapportage", evidence="Q4", acting=PL)
    services.approve(app, aanpak, "doelen_bereikt", acting=SG2)
    services.advance(app, aanpak, acting=PL, to="evaluate")
    services.complete(app, aanpak, "evaluatierapport", evidence="evaluatie.pdf", acting=PL)
    services.complete(app, aanpak, "nazorgafspraken", evidence="afspraken", acting=PL)
    services.approve(app, aanpak, "afsluiting_akkoord", acting=SG1)
    result = services.advance(app, aanpak, acting=PL)
    assert result["to"] == "closed"
    # The optional criterion was shown but did not block.
    optional = [c for c in result["gate"]["criteria"] if c["optional"]]
    assert optional and not optional[0]["met"]
    phases = [(e["from_phase"], e["to_phase"]) for e in services.history(app, aanpak) if e["to_phase"]]
    assert phases == [(None, "initiate"), ("initiate", "design"), ("design", "execute"), ("execute", "monitor"),
                      ("monitor", "execute"), ("execute", "monitor"), ("monitor", "evaluate"),
                      ("evaluate", "closed")]
    with pytest.raises(InvalidInput, match="is closed \\(Afgesloten\\) and accepts no changes"):
        services.advance(app, aanpak, acting=PL)


def test_phase_change_event_freezes_the_gate_with_evidence_and_approver(app, aanpak):
    walk_initiate(app, aanpak)
    event = [e for e in services.history(app, aanpak) if e["type"] == "phase_changed"][0]
    gate = {c["key"]: c for c in event["payload"]["gate"]}
    assert gate["lokaal_contract"]["evidence"] == "lokaal_contract.pdf"
    assert gate["lokaal_contract"]["by"]["email"] == PL
    assert gate["lokaal_contract_akkoord"]["by"]["email"] == SG1
    assert all(c["met"] or c["optional"] for c in gate.values())
    assert gate["lokaal_contract_ondertekend"]["optional"] is True


def test_four_eyes_refuses_approving_what_you_completed(app, aanpak):
    services.assign_role(app, aanpak, PL, role="approver", acting=PL)
    services.complete(app, aanpak, "lokaal_contract", evidence="contract.pdf", acting=PL)
    before = counts(app)
    with pytest.raises(NotAllowed, match=r"four-eyes"):
        services.approve(app, aanpak, "lokaal_contract_akkoord", acting=PL)
    assert counts(app) == before


def test_approval_goes_stale_when_the_deliverable_changes_after_it(app, aanpak, clock):
    services.complete(app, aanpak, "lokaal_contract", evidence="v1.pdf", acting=PL)
    services.approve(app, aanpak, "lokaal_contract_akkoord", acting=SG1)
    clock.forward(1)
    services.complete(app, aanpak, "lokaal_contract", evidence="v2.pdf", acting=PL)
    crit = {c["key"]: c for c in services.gate_status(app, aanpak)["criteria"]}
    assert crit["lokaal_contract_akkoord"]["met"] is False
    assert crit["lokaal_contract_akkoord"]["why"] == "'lokaal_contract' changed after it was approved; approve again"


@pytest.mark.parametrize("who, call, message", [
    (WR, lambda app, ref, who: services.complete(app, ref, "coalitie", evidence="x", acting=who),
     "Only someone with the projectleider role on Wijkaanpak Noord may complete deliverables"),
    (PL, lambda app, ref, who: services.approve(app, ref, "lokaal_contract_akkoord", acting=who),
     "Only someone with the approver role on Wijkaanpak Noord may approve 'lokaal_contract_akkoord'"),
    (SG1, lambda app, ref, who: services.advance(app, ref, acting=who),
     "Only someone with the projectleider role on Wijkaanpak Noord may advance it"),
    (AUDITOR, lambda app, ref, who: services.advance(app, ref, acting=who),
     "auditor@hengelo.example is an auditor: auditors read everything and change nothing."),
    (PL, lambda app, ref, who: services.advance(app, ref, acting=who, override=True, reason="haast"),
     "Only an administrator may override a gate."),
    (None, lambda app, ref, who: services.advance(app, ref, acting=who),
     "Say who you are with --as EMAIL (or set WIJKFLOW_USER)."),
    ("onbekend@x.nl", lambda app, ref, who: services.advance(app, ref, acting=who),
     "onbekend@x.nl is not a known person in this database"),
])
def test_refusals_for_the_wrong_person_write_nothing(app, aanpak, db_state, who, call, message):
    services.complete(app, aanpak, "lokaal_contract", evidence="c.pdf", acting=PL)
    before = db_state()
    with pytest.raises(NotAllowed) as err:
        call(app, aanpak, who)
    assert str(err.value).startswith(message)
    assert db_state() == before


def test_admin_override_needs_reason_and_is_recorded(app, aanpak):
    with pytest.raises(InvalidInput, match="An override needs a --reason"):
        services.advance(app, aanpak, acting=ADMIN, override=True)
    r = services.advance(app, aanpak, acting=ADMIN, override=True, reason="Raadsbesluit 2026-14")
    assert r["override"] is True and r["to"] == "design"
    event = next(e for e in services.history(app, aanpak) if e["type"] == "phase_changed")
    assert event["payload"]["override"] is True
    assert event["reason"] == "Raadsbesluit 2026-14"
    assert event["actor"]["email"] == ADMIN


def test_dry_run_reports_and_writes_nothing(app, aanpak, db_state):
    before = db_state()
    r = services.advance(app, aanpak, acting=PL, dry_run=True)
    assert r["would_move"] is False and len(r["gate"]["criteria"]) == 6
    assert db_state() == before


def test_complete_checks_the_criterion(app, aanpak):
    with pytest.raises(NotFound, match="has no criterion 'bestaat_niet'"):
        services.complete(app, aanpak, "bestaat_niet", evidence="x", acting=PL)
    with pytest.raises(InvalidInput, match="belongs to the gate out of design, not of the current phase initiate"):
        services.complete(app, aanpak, "teams", evidence="x", acting=PL)
    with pytest.raises(InvalidInput, match="is an approval; use `wijkflow approve`"):
        services.complete(app, aanpak, "lokaal_contract_akkoord", evidence="x", acting=PL)
    with pytest.raises(InvalidInput, match="needs evidence"):
        services.complete(app, aanpak, "coalitie", acting=PL)
    with pytest.raises(InvalidInput, match="is not completed yet; there is nothing to approve"):
        services.approve(app, aanpak, "lokaal_contract_akkoord", acting=SG1)


def test_stale_version_is_a_conflict_and_writes_nothing(app, aanpak, db_state):
    for key in INITIATE:
        services.complete(app, aanpak, key, evidence="x", acting=PL)
    services.approve(app, aanpak, "lokaal_contract_akkoord", acting=SG1)
    with app.db.read() as conn:
        version = store.find_aanpak(conn, aanpak).version
    services.advance(app, aanpak, acting=PL, expected_version=version)
    before = db_state()
    with pytest.raises(Conflict, match="Someone else changed this wijkaanpak's phase first"):
        services.advance(app, aanpak, acting=PL, expected_version=version)
    assert db_state() == before


def test_one_app_moves_many_aanpakken_from_many_threads(app, people):
    """The machine of a definition is shared; each move is its own, whichever thread makes it."""
    slugs = [services.create_aanpak(app, f"Wijk {n}", wijk=f"Wijk {n}", leader=PL, acting=PL)["slug"]
             for n in range(8)]
    with ThreadPoolExecutor(4) as pool:
        moved = list(pool.map(lambda s: services.advance(app, s, acting=ADMIN, override=True, reason="besluit"),
                              slugs))
    assert [(m["aanpak"], m["from"], m["to"], m["moved"]) for m in moved] == [
        (s, "initiate", "design", True) for s in slugs]
    for slug in slugs:
        changes = [e for e in services.history(app, slug) if e["type"] == "phase_changed"]
        assert [(e["from_phase"], e["to_phase"]) for e in changes] == [("initiate", "design")]
    # A refused move in between changes nothing for the next one.
    with pytest.raises(GateNotMet):
        services.advance(app, slugs[0], acting=PL)
    assert services.advance(app, slugs[1], acting=ADMIN, override=True, reason="x")["to"] == "execute"


def test_a_move_whose_version_check_fails_writes_nothing(app, aanpak, db_state):
    """The machine's own write is version-checked: a move that lost the race leaves no event or reminder."""
    before = db_state()
    with pytest.raises(Conflict, match="Someone else changed this wijkaanpak's phase first"):
        with app.db.write() as conn:
            ctx = load(conn, aanpak, app.definitions)
            who = actor(conn, ADMIN)
            d = ctx.definition
            move = engine.Move(conn=conn, app=app, row=ctx.row, definition=d,
                               transition=engine.choose_transition(d, ctx.row.phase, None),
                               facts=facts(conn, ctx), who=who, reason="x", now=app.now(),
                               expected_version=ctx.row.version + 1, override=True)
            engine.run(move)
    assert db_state() == before


def test_a_refusal_keeps_every_criterion_and_its_reason(app, aanpak):
    services.complete(app, aanpak, "coalitie", evidence="x.pdf", acting=PL)
    dry = services.advance(app, aanpak, acting=PL, dry_run=True)
    assert dry["would_move"] is False
    with pytest.raises(GateNotMet) as refused:
        services.advance(app, aanpak, acting=PL)
    unmet = [(c["key"], c["why"]) for c in dry["gate"]["criteria"] if not c["met"] and not c["optional"]]
    assert [(c.key, c.why) for c in refused.value.unmet] == unmet and len(unmet) == 4


def test_one_use_case_is_one_transaction(app, aanpak):
    """A failure inside the write block leaves neither the change nor its event behind."""
    before = counts(app)
    with pytest.raises(RuntimeError), app.db.write() as conn:
        store.insert_record(conn, aanpak_id=1, visit=1, criterion="coalitie", action="completed",
                            person_id=None, at=app.now())
        store.append_event(conn, at=app.now(), type="criterion_completed", aanpak_id=1)
        raise RuntimeError("boom")
    assert counts(app) == before


def test_audit_events_cannot_be_updated_or_deleted(app, aanpak):
    with pytest.raises(Exception, match="append-only"), app.db.write() as conn:
        conn.execute(sa.text("UPDATE audit_event SET reason='x'"))
    with pytest.raises(Exception, match="append-only"), app.db.write() as conn:
        conn.execute(sa.text("DELETE FROM audit_event"))


def test_imported_running_programme_starts_in_its_phase(app, people, clock):
    a = services.create_aanpak(app, "Sint Marten en Sonsbeek", wijk="Sint Marten", gemeente="Arnhem",
                               leader=PL, acting=PL, phase="monitor", since="2025-11-03")
    shown = services.show_aanpak(app, a["slug"])
    assert a["slug"] == "sint-marten-en-sonsbeek"
    assert shown["phase"] == "monitor" and shown["phase_since"] == "2025-11-03T00:00:00+01:00"
    assert shown["days_in_phase"] == 119
    created = services.history(app, a["slug"])[0]
    assert created["payload"]["imported_since"] == "2025-11-03"
    with pytest.raises(InvalidInput, match="lies in the future"):
        services.create_aanpak(app, "Later", wijk="X", leader=PL, acting=PL, phase="execute", since="2027-01-01")


def test_history_payload_is_json_and_names_no_person(app, aanpak):
    """Personal data stays out of the chained payload: people are ids."""
    walk_initiate(app, aanpak)
    with app.db.read() as conn:
        raw = [r.payload for r in store.events(conn)]
    for payload in raw:
        json.loads(payload)
        assert "@" not in payload and "Fleur" not in payload


def test_new_measurement_criterion_needs_a_measurement_in_this_visit(app, aanpak, clock):
    """'Nieuwe meting' on a second monitor visit is not met by the measurements of the first."""
    walk_initiate(app, aanpak)
    walk_design(app, aanpak)
    services.complete(app, aanpak, "maatregelen_gestart", evidence="gestart", acting=PL)
    clock.forward(90)
    services.advance(app, aanpak, acting=PL)
    services.measure(app, aanpak, "veiligheid", "6.1", acting=WR)
    crit = {c["key"]: c for c in services.gate_status(app, aanpak, to="evaluate")["criteria"]}
    assert crit["metingen"]["met"] is True
    for key in ("monitoringsrapportage", "bijsturingsvoorstel"):
        services.complete(app, aanpak, key, evidence="rapport", acting=PL)
    services.approve(app, aanpak, "bijsturing_akkoord", acting=SG1)
    services.advance(app, aanpak, acting=PL, to="execute")
    clock.forward(90)
    services.complete(app, aanpak, "maatregelen_gestart", evidence="opnieuw", acting=PL)
    services.advance(app, aanpak, acting=PL)
    crit = {c["key"]: c for c in services.gate_status(app, aanpak, to="evaluate")["criteria"]}
    assert crit["metingen"]["met"] is False
    assert crit["metingen"]["why"] == "fewer than 1 measurements since entering this phase for veiligheid"
    clock.forward(1)
    services.measure(app, aanpak, "veiligheid", "6.5", acting=WR)
    crit = {c["key"]: c for c in services.gate_status(app, aanpak, to="evaluate")["criteria"]}
    assert crit["metingen"]["met"] is True
