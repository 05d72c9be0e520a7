"""Workflow definitions: the shipped ones load, broken ones are refused with file, path and line."""

from pathlib import Path

import pytest
from conftest import MINIMAL

from wijkflow import services
from wijkflow.definitions import load_file, load_text, shipped_dir
from wijkflow.errors import DefinitionError


@pytest.mark.parametrize("path", sorted(shipped_dir().glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_definition_loads(path):
    d = load_file(path)
    assert d.phases and d.transitions
    assert path.read_text(encoding="utf-8").startswith("#"), "each definition names its source in a comment"


def test_default_wijkaanpak_follows_hengelo_lifecycle():
    d = load_file(shipped_dir() / "wijkaanpak.yaml")
    assert [p.key for p in d.phases] == ["initiate", "design", "execute", "monitor", "evaluate", "closed"]
    assert d.phase_label("initiate") == "Initiëren"
    moves = {(t.source, t.dest) for t in d.transitions}
    assert {("monitor", "execute"), ("monitor", "design"), ("evaluate", "design"), ("evaluate", "closed")} <= moves
    assert set(d.outgoing("initiate")[0].gate) >= {"coalitie", "analyse_visie", "lokaal_contract",
                                                    "instrumenten_financiering"}


@pytest.mark.parametrize("text, message", [
    ("name: [\n", "t.yaml, line 2: YAML syntax error: expected the node content, but found '<stream end>'"),
    (MINIMAL.replace("    dest: done\n", "    dest: nergens\n"),
     "t.yaml, line 16 (transitions[0].dest): unknown phase 'nergens' in a transition"),
    (MINIMAL.replace("criteria:\n", "criteria:\n  plan:\n    kind: deliverable\n    label: Dubbel\n"),
     "t.yaml, line 14 (criteria.plan): duplicate key 'plan' (first on line 11)"),
    (MINIMAL.replace("    gate: [plan]\n", "    gate: [plan, begroting]\n"),
     "t.yaml, line 18 (transitions[0].gate[1]): unknown criterion 'begroting' in the gate"),
    (MINIMAL.replace("  - key: done\n", "  - key: wees\n    label: Wees\n    final: true\n  - key: done\n"),
     "t.yaml, line 7 (phases[1]): phase 'wees' cannot be reached from 'start'"),
    (MINIMAL.replace("    label: Klaar\n", ""), "t.yaml, line 7 (phases[1].label): required field 'label' is missing"),
    (MINIMAL.replace("kind: deliverable", "kind: handtekening"),
     "t.yaml, line 12 (criteria.plan.kind): unknown criterion kind 'handtekening'; expected one of 'deliverable', "
     "'approval', 'indicators', 'min_days', 'targets', 'interpretation', 'analysis', 'agenda', 'themes', "
     "'parties'"),
    ("", "t.yaml, line 1: the file is empty"),
    ("- a\n- b\n", "t.yaml, line 1: a definition must be a mapping (key: value)"),
])
def test_broken_definition_names_file_path_and_line(text, message):
    with pytest.raises(DefinitionError) as err:
        load_text(text, file="t.yaml")
    assert str(err.value) == message


def test_validate_command_reports_line(run, tmp_path):
    bad = tmp_path / "kapot.yaml"
    bad.write_text(MINIMAL.replace("    dest: done\n", "    dest: nergens\n"), encoding="utf-8")
    r = run("workflows", "validate", str(bad))
    assert r.exit_code == 2
    assert r.stderr == f"Error: {bad}, line 16 (transitions[0].dest): unknown phase 'nergens' in a transition\n"
    good = tmp_path / "mini.yaml"
    good.write_text(MINIMAL, encoding="utf-8")
    r = run("workflows", "validate", str(good))
    assert r.exit_code == 0
    assert "valid (mini v1: 2 phases, 1 transitions, 1 criteria)" in r.stdout


def test_show_mermaid_uses_dutch_labels(run):
    r = run("workflows", "show", "wijkaanpak", "--format", "mermaid")
    assert r.exit_code == 0
    assert "stateDiagram-v2" in r.stdout
    assert 'state "Initiëren" as initiate' in r.stdout
    assert "monitor --> execute: Leren en bijsturen" in r.stdout


def test_edited_definition_under_same_version_is_refused_and_running_aanpak_keeps_its_rules(
        app, people, tmp_path, db_state):
    path = tmp_path / "mini.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    first = services.create_aanpak(app, "Eerste", wijk="Oost", leader=people["pl"], workflow=str(path),
                                   acting=people["pl"])
    path.write_text(MINIMAL.replace("label: Plan", "label: Plan van aanpak"), encoding="utf-8")
    before = db_state()
    with pytest.raises(Exception) as err:
        services.create_aanpak(app, "Tweede", wijk="Oost", leader=people["pl"], workflow=str(path),
                               acting=people["pl"])
    assert str(err.value) == ("Workflow 'mini' version 1 was changed after aanpakken started on it; give the "
                              "changed definition a new version number (e.g. 2).")
    assert db_state() == before
    # The running aanpak still shows the label it started with.
    shown = services.show_aanpak(app, first["slug"])
    assert shown["gates"][0]["criteria"][0]["label"] == "Plan"
    path.write_text(MINIMAL.replace("label: Plan", "label: Plan van aanpak").replace("version: 1", "version: 2"),
                    encoding="utf-8")
    second = services.create_aanpak(app, "Tweede", wijk="Oost", leader=people["pl"], workflow=str(path),
                                    acting=people["pl"])
    assert second["workflow"] == "mini v2"
    assert services.show_aanpak(app, first["slug"])["workflow"]["version"] == 1
    assert Path(path).exists()
