"""`wijkflow migrate`: running aanpakken moved to a new version of their workflow definition.

The new versions are the shipped wijkaanpak.yaml with a few lines changed, written to the
test's own workflows directory, as a programme office would do.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import ADMIN, PL, SG1, WR

from wijkflow import services
from wijkflow.app import App
from wijkflow.services import audit as audit_service

V1 = str(Path(__file__).resolve().parents[1] / "workflows" / "wijkaanpak.yaml")
SHIPPED = Path(V1).read_text(encoding="utf-8")
REF = "wijkaanpak-noord"
GATE_V1 = ("gate: [coalitie, analyse_visie, lokaal_contract, lokaal_contract_akkoord, instrumenten_financiering,\n"
           "           lokaal_contract_ondertekend]")


def version(n: int, *changes: tuple[str, str]) -> str:
    text = SHIPPED.replace("\nversion: 2\n", f"\nversion: {n}\n", 1)
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new)
    return text


# Version 2: the initiate gate asks for a bewonersavond instead of instrumenten_financiering,
# and a phase may last 180 days instead of 365 (the stalled reminder comes earlier).
V2 = (
    (GATE_V1, "gate: [coalitie, analyse_visie, lokaal_contract, lokaal_contract_akkoord, bewonersavond,\n"
              "           lokaal_contract_ondertekend]"),
    ("  instrumenten_financiering:\n    kind: deliverable\n    label: Instrumenten en financiering geregeld\n",
     "  bewonersavond:\n    kind: deliverable\n    label: Bewonersavond gehouden\n"),
    ("    max_days: 365\n  - key: design", "    max_days: 180\n  - key: design"),
)
# Version 3 (from v2's text): the monitor phase is called toetsen.
RENAMED = (("key: monitor\n", "key: toetsen\n"), ("source: monitor", "source: toetsen"),
           ("dest: monitor", "dest: toetsen"), ("phase: monitor", "phase: toetsen"))
# A version whose coalitie criterion becomes an approval: a completed deliverable no longer meets it.
STRICTER = (("  coalitie:\n    kind: deliverable\n", "  coalitie:\n    kind: approval\n    role: approver\n"),)


@pytest.fixture
def workflows(tmp_path: Path) -> Path:
    d = tmp_path / "workflows"
    d.mkdir()
    (d / "wijkaanpak-v2.yaml").write_text(version(3, *V2), encoding="utf-8")
    return d


@pytest.fixture
def wapp(db_url, clock, tmp_path, workflows, people):
    """The test's app with the extra workflows directory, an aanpak with work done in initiate."""
    app = App.open(db_url, clock=clock, outbox_dir=str(tmp_path / "outbox"), workflows_dir=str(workflows))
    services.create_aanpak(app, "Wijkaanpak Noord", wijk="Noord", gemeente="Hengelo", leader=PL,
                           coordinators=(WR,), approvers=(SG1,), acting=PL, workflow=V1)
    for key in ("coalitie", "instrumenten_financiering"):
        clock.forward(1)
        services.complete(app, REF, key, evidence=f"{key}.pdf", acting=PL)
    services.set_deadline(app, REF, "lokaal_contract", "2026-06-01", acting=PL)
    yield app
    app.close()


def migrate(run, workflows, *args, user=PL):
    return run("migrate", *args, user=user, env={"WIJKFLOW_WORKFLOWS_DIR": str(workflows)})


def test_a_migration_shows_the_difference_and_keeps_met_work(wapp, run, workflows, db_state):
    before = db_state()
    r = migrate(run, workflows, REF, "--to-version", "3", "--dry-run")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[0] == ("Wijkaanpak Noord [wijkaanpak-noord]: wijkaanpak v2 -> wijkaanpak v3, "
                                        "phase Initiëren (initiate)")
    assert "  + criterion Bewonersavond gehouden [bewonersavond]" in r.stdout
    assert ("  - criterion Instrumenten en financiering geregeld [instrumenten_financiering]: no longer asked "
            "(met; its records stay in the history)") in r.stdout
    assert "  - reminder fase_stagneert (stalled) due 2027-03-02 09:00" in r.stdout
    assert "  + reminder fase_stagneert (stalled) due 2026-08-31 09:00" in r.stdout
    assert r.stdout.rstrip().endswith("Dry run: 1 aanpak would move to wijkaanpak v3; nothing was written.")
    assert db_state() == before

    r = migrate(run, workflows, REF, "--to-version", "3", "--reason", "Nieuw model provincie")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.rstrip().endswith("Moved 1 aanpak to wijkaanpak v3.")
    shown = services.show_aanpak(wapp, REF)
    assert shown["workflow"]["version"] == 3 and shown["phase"] == "initiate"
    gate = {c["key"]: c["met"] for c in services.gate_status(wapp, REF)["criteria"]}
    assert gate["coalitie"] is True and gate["bewonersavond"] is False and "instrumenten_financiering" not in gate
    events = list(audit_service.query(wapp, aanpak=REF, types=("definition_migrated",)))
    assert len(events) == 1
    e = events[0]
    assert e["reason"] == "Nieuw model provincie" and e["actor"]["email"] == PL
    assert e["payload"]["from"] == "wijkaanpak v2" and e["payload"]["to"] == "wijkaanpak v3"
    assert e["payload"]["met_no_longer_asked"] == ["instrumenten_financiering"]
    assert audit_service.verify(wapp)["ok"]
    # The records of the criterion that vanished are still in the history.
    assert any(h["type"] == "criterion_completed" and "instrumenten_financiering" in json.dumps(h)
               for h in services.history(wapp, REF))
    # Run again: already there, refused, nothing written.
    r = migrate(run, workflows, REF, "--to-version", "3")
    assert (r.exit_code, r.stderr) == (2, "Error: Wijkaanpak Noord is already on wijkaanpak v3; migrations only "
                                          "move forward.\n")


def test_the_reminders_follow_the_new_rules(wapp, run, workflows, clock):
    with wapp.db.read() as conn:
        rows = conn.exec_driver_sql("SELECT rule, kind, status, reason FROM reminder ORDER BY id").all()
    assert [(r.rule, r.status) for r in rows] == [("fase_stagneert", "pending"), ("deadline_nadert", "pending"),
                                                  ("deadline_nadert", "pending")]
    assert migrate(run, workflows, REF, "--to-version", "3").exit_code == 0
    pending = services_pending(wapp)
    assert [(r.rule, r.kind) for r in pending] == [("deadline_nadert", "before"), ("deadline_nadert", "overdue"),
                                                   ("fase_stagneert", "stalled")]
    with wapp.db.read() as conn:
        cancelled = conn.exec_driver_sql("SELECT reason FROM reminder WHERE status = 'cancelled'").scalars().all()
    # Only the stalled reminder changes (365 -> 180 days); the deadline reminders stay as they were.
    assert cancelled == ["definition migrated from wijkaanpak v2 to wijkaanpak v3"]


def services_pending(app):
    from wijkflow import store

    with app.db.read() as conn:
        return sorted(store.pending_reminders(conn, store.find_aanpak(conn, REF).id), key=lambda r: r.due_at)


def test_a_phase_the_new_version_lacks_needs_a_mapping(wapp, run, workflows, db_state, clock):
    (workflows / "wijkaanpak-v4.yaml").write_text(version(4, *V2, *RENAMED), encoding="utf-8")
    services.create_aanpak(wapp, "Wijkaanpak Zuid", wijk="Zuid", gemeente="Hengelo", leader=PL, approvers=(SG1,),
                           phase="monitor", since="2026-01-05", acting=PL, workflow=V1)
    before = db_state()
    r = migrate(run, workflows, "wijkaanpak-zuid", "--to-version", "4")
    assert r.exit_code == 2
    assert r.stderr == ("Error: Wijkaanpak Zuid is in phase monitor (Monitoren / toetsen en bijsturen), which "
                        "wijkaanpak v4 does not have; say where it goes with --map monitor=PHASE (phases: "
                        "initiate, design, execute, toetsen, evaluate, closed).\n")
    assert db_state() == before
    r = migrate(run, workflows, "wijkaanpak-zuid", "--to-version", "4", "--map", "monitor=nergens")
    assert r.exit_code == 2 and "wijkaanpak v4 has no phase 'nergens'" in r.stderr
    r = migrate(run, workflows, "wijkaanpak-zuid", "--to-version", "4", "--map", "monitor=closed")
    assert r.exit_code == 2 and "closed is a final phase" in r.stderr
    r = migrate(run, workflows, "wijkaanpak-zuid", "--to-version", "4", "--map", "monitor")
    assert r.exit_code == 2 and "--map takes OLD=NEW" in r.stderr
    assert db_state() == before

    r = migrate(run, workflows, "wijkaanpak-zuid", "--to-version", "4", "--map", "monitor=toetsen")
    assert r.exit_code == 0, r.stderr
    assert ("phase Monitoren / toetsen en bijsturen (monitor) -> Monitoren / toetsen en bijsturen (toetsen)"
            in r.stdout)
    shown = services.show_aanpak(wapp, "wijkaanpak-zuid")
    assert shown["phase"] == "toetsen" and shown["workflow"]["version"] == 4
    r = run("history", "wijkaanpak-zuid")
    assert "migrated: wijkaanpak v2 -> v4, monitor -> toetsen" in r.stdout
    r = run("audit", "query", "--type", "definition_migrated")
    assert "definition_migrated" in r.stdout and "wijkaanpak v2 -> v4, monitor -> toetsen" in r.stdout
    # The history replays it: as of today the aanpak is in toetsen on version 4.
    from wijkflow.services.asof import show_as_of

    past = show_as_of(wapp, "wijkaanpak-zuid", clock.now.astimezone(wapp.tz).date().isoformat())
    assert (past["phase"], past["workflow"]["version"]) == ("toetsen", 4)
    # The aanpak keeps working on the new version.
    services.complete(wapp, "wijkaanpak-zuid", "monitoringsrapportage", evidence="rapportage.pdf", acting=PL)
    assert audit_service.verify(wapp)["ok"]


def test_a_migration_that_would_reopen_met_work_is_refused(wapp, run, workflows, db_state):
    (workflows / "wijkaanpak-v4.yaml").write_text(version(4, *V2, *STRICTER), encoding="utf-8")
    before = db_state()
    r = migrate(run, workflows, REF, "--to-version", "4")
    assert (r.exit_code, r.stderr) == (2, "Error: Wijkaanpak Noord: wijkaanpak v4 would re-open what is already "
                                          "met (Coalitie en bestuurlijke alliantie [coalitie]); its rules for it "
                                          "are stricter. Meet them first, or keep the aanpak on its version.\n")
    assert db_state() == before


def test_who_may_migrate(wapp, run, workflows, db_state):
    before = db_state()
    r = migrate(run, workflows, REF, "--to-version", "3", user=WR)
    assert r.exit_code == 5 and "Only someone with the projectleider role" in r.stderr
    r = migrate(run, workflows, "--all", "--workflow", "wijkaanpak", "--to-version", "3", user=PL)
    assert (r.exit_code, r.stderr) == (5, f"Error: Only an administrator may migrate every aanpak at once; {PL} "
                                          "is not one.\n")
    assert db_state() == before
    r = migrate(run, workflows, REF, "--to-version", "3", user=ADMIN)
    assert r.exit_code == 0, r.stderr


def test_bad_requests_write_nothing(wapp, run, workflows, db_state, tmp_path):
    before = db_state()
    r = migrate(run, workflows, REF, "--to-version", "9")
    assert (r.exit_code, r.stderr) == (4, "Error: No version 9 of workflow 'wijkaanpak' in the workflows "
                                          "directories (give the file with --workflow PATH).\n")
    r = migrate(run, workflows, REF, "--all", "--to-version", "3")
    assert (r.exit_code, r.stderr) == (2, "Error: Name one aanpak (REF) or give --all, not both or neither.\n")
    r = migrate(run, workflows, "--all", "--to-version", "3", user=ADMIN)
    assert r.exit_code == 2 and "--all needs --workflow NAME" in r.stderr
    r = migrate(run, workflows, REF, "--to-version", "3", "--workflow", str(workflows / "nope.yaml"))
    assert r.exit_code == 4
    other = tmp_path / "v6.yaml"
    other.write_text(version(6, *V2), encoding="utf-8")
    r = migrate(run, workflows, REF, "--to-version", "3", "--workflow", str(other))
    assert (r.exit_code, r.stderr) == (2, f"Error: {other} holds wijkaanpak v6, not wijkaanpak v3.\n")
    r = migrate(run, workflows, "bestaat-niet", "--to-version", "3")
    assert r.exit_code == 4
    assert db_state() == before


def test_all_moves_every_running_aanpak_or_none(wapp, run, workflows, db_state, clock):
    (workflows / "wijkaanpak-v4.yaml").write_text(version(4, *V2, *RENAMED), encoding="utf-8")
    services.create_aanpak(wapp, "Wijkaanpak Zuid", wijk="Zuid", gemeente="Hengelo", leader=PL, approvers=(SG1,),
                           phase="monitor", since="2026-01-05", acting=PL, workflow=V1)
    services.create_aanpak(wapp, "Wijkaanpak Oost", wijk="Oost", gemeente="Hengelo", leader=PL,
                           acting=PL, workflow=V1)
    before = db_state()
    r = migrate(run, workflows, "--all", "--workflow", "wijkaanpak", "--to-version", "4", user=ADMIN)
    assert r.exit_code == 2
    assert r.stderr.startswith("Error: 1 of 3 aanpakken cannot move to wijkaanpak v4; nothing was written: "
                               "wijkaanpak-zuid: Wijkaanpak Zuid is in phase monitor")
    assert db_state() == before
    r = migrate(run, workflows, "--all", "--workflow", str(workflows / "wijkaanpak-v4.yaml"), "--to-version", "4",
                "--map", "monitor=toetsen", user=ADMIN)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.rstrip().endswith("Moved 3 aanpakken to wijkaanpak v4.")
    assert {services.show_aanpak(wapp, a["slug"])["workflow"]["version"] for a in services.list_aanpakken(wapp)} == {4}
    assert audit_service.verify(wapp)["ok"]


# --- a migration is never a way past a gate (issue 17) --------------------------------------------

def phase_events(app, slug):
    with app.db.read() as conn:
        rows = conn.execute(sa.text(
            "SELECT type, from_phase, to_phase FROM audit_event WHERE aanpak_id = (SELECT id FROM aanpak "
            "WHERE slug = :slug) AND type IN ('phase_changed', 'gate_overridden', 'definition_migrated') ORDER BY id"),
            {"slug": slug}).all()
    return [tuple(r) for r in rows]


@pytest.mark.parametrize("mapping", ["initiate=design", "initiate=closed", "initiate=execute"])
def test_a_mapping_that_moves_an_aanpak_forward_is_refused(wapp, run, workflows, db_state, mapping):
    """v3 is the shipped definition with only the version raised: every phase still exists, so each maps to itself."""
    (workflows / "wijkaanpak-v3.yaml").write_text(version(3), encoding="utf-8")
    before = db_state()
    for user in (PL, ADMIN):
        r = migrate(run, workflows, REF, "--to-version", "3", "--map", mapping, "--workflow",
                    str(workflows / "wijkaanpak-v3.yaml"), user=user)
        assert r.exit_code == 2, r.stdout
        assert r.stderr.count("\n") == 1
        if not mapping.endswith("closed"):
            assert "a migration only renames phases (initiate is still a phase of wijkaanpak v3, so it stays " \
                   "initiate): move it with `wijkflow advance`, or as an administrator add --override --reason." \
                   in r.stderr
    assert db_state() == before
    shown = json.loads(run("show", REF, "--format", "json").stdout)
    assert (shown["phase"], shown["workflow"]["version"]) == ("initiate", 2)


def test_an_administrator_may_move_past_the_gate_only_as_a_recorded_override(wapp, run, workflows, db_state):
    (workflows / "wijkaanpak-v3.yaml").write_text(version(3), encoding="utf-8")
    v3 = str(workflows / "wijkaanpak-v3.yaml")
    before = db_state()
    r = migrate(run, workflows, REF, "--to-version", "3", "--map", "initiate=design", "--override", "--workflow", v3,
                "--reason", "Besluit stuurgroep", user=PL)
    assert (r.exit_code, r.stderr) == (5, "Error: Only an administrator may override a gate.\n")
    r = migrate(run, workflows, REF, "--to-version", "3", "--map", "initiate=design", "--override", "--workflow", v3,
                user=ADMIN)
    assert (r.exit_code, r.stderr) == (2, "Error: An override needs a --reason: it is recorded in the history.\n")
    assert db_state() == before
    r = migrate(run, workflows, REF, "--to-version", "3", "--map", "initiate=design", "--override", "--workflow", v3,
                "--reason", "Besluit stuurgroep", user=ADMIN)
    assert r.exit_code == 0, r.stderr
    assert "past an unmet gate: an administrator's override" in r.stdout
    assert phase_events(wapp, REF)[-3:] == [("definition_migrated", "initiate", "initiate"),
                                            ("phase_changed", "initiate", "design"),
                                            ("gate_overridden", "initiate", "design")]
    shown = json.loads(run("show", REF, "--format", "json").stdout)
    assert (shown["phase"], shown["workflow"]["version"]) == ("design", 3)
    r = run("audit", "phases", "--aanpak", REF, "--format", "json")
    phases = json.loads(r.stdout)["aanpakken"][0]["phases"]
    assert [(p["phase"], p["current"]) for p in phases] == [("initiate", False), ("design", True)]


def test_a_removed_phase_maps_only_to_the_phase_in_its_place(wapp, run, workflows):
    """v4 renames monitor to toetsen: monitor=toetsen renames, monitor=evaluate would move it on."""
    (workflows / "wijkaanpak-v4.yaml").write_text(version(4, *V2, *RENAMED), encoding="utf-8")
    services.create_aanpak(wapp, "Wijkaanpak Zuid", wijk="Zuid", gemeente="Hengelo", leader=PL, coordinators=(WR,),
                           approvers=(SG1,), acting=PL, workflow=V1, phase="monitor", since="2026-01-05")
    r = migrate(run, workflows, "wijkaanpak-zuid", "--to-version", "4", "--map", "monitor=evaluate")
    assert r.exit_code == 2 and ("a migration only renames phases (monitor is gone from wijkaanpak v4: it may only "
                                 "become the new phase in its place)") in r.stderr
    r = migrate(run, workflows, "wijkaanpak-zuid", "--to-version", "4", "--map", "monitor=toetsen")
    assert r.exit_code == 0, r.stderr


def test_a_stopped_aanpak_keeps_its_version(wapp, run, workflows, db_state):
    """Closed is closed: a stopped programme is not moved to a new definition version either."""
    from wijkflow.services import status

    status.stop(wapp, REF, reason="Besluit gemeenteraad", acting=PL)
    before = db_state()
    r = migrate(run, workflows, REF, "--to-version", "3", user=ADMIN)
    assert r.exit_code == 2 and "stopped (Stopgezet); it keeps the version it stopped on" in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1 and db_state() == before
