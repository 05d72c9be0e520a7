"""The CLI end to end on the default workflow: create, refuse, satisfy, advance."""

from conftest import PL, SG1


def test_advance_refused_lists_every_unmet_criterion(run, aanpak, db_state):
    before = db_state()
    r = run("advance", aanpak, user=PL)
    assert r.exit_code == 3
    assert "Wijkaanpak Noord cannot move from initiate to design: 5 criteria are not met." in r.stderr
    for key in ("coalitie", "analyse_visie", "lokaal_contract", "lokaal_contract_akkoord",
                "instrumenten_financiering"):
        assert f"[{key}]" in r.stderr
    assert db_state() == before


def test_gate_met_then_advance_moves_phase(run, aanpak):
    for key in ("coalitie", "analyse_visie", "lokaal_contract", "instrumenten_financiering"):
        assert run("complete", aanpak, key, "--evidence", "doc.pdf", user=PL).exit_code == 0
    assert run("approve", aanpak, "lokaal_contract_akkoord", user=SG1).exit_code == 0
    r = run("advance", aanpak, user=PL)
    assert r.exit_code == 0, r.stderr
    assert "moved Initiëren [initiate] -> Ontwerpen [design]" in r.stdout


def test_a_refusal_reads_the_same_from_python_as_on_the_command_line(run, app, aanpak):
    import pytest

    from wijkflow import GateNotMet, services

    with pytest.raises(GateNotMet) as refused:
        services.advance(app, aanpak, acting=PL)
    r = run("advance", aanpak, user=PL)
    assert r.stderr == f"Error: {refused.value}\n"
    assert r.stderr.splitlines()[1].startswith("  [ ] ")
