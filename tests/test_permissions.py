"""Every command × every role, against the permission matrix in wijkflow/permissions.py (and README).

Each case runs on a fresh copy of one prepared database: allowed commands must succeed
(exit 0) and, if they change something, leave an audit event; refused ones must exit 5
and leave the history exactly as it was.
"""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
import pytest
from click.testing import CliRunner
from conftest import ADMIN, AUDITOR, PL, SG1, SG2, WR

from wijkflow import permissions, services, store
from wijkflow.app import App
from wijkflow.cli import cli
from wijkflow.services import status
from wijkflow.services.areas import change_areas
from wijkflow.services.signin import create_token

OTHER = "other@hengelo.example"
TARGET = "target@hengelo.example"
NOW = datetime(2026, 6, 1, 9, 0, tzinfo=ZoneInfo("Europe/Amsterdam")).astimezone(UTC)
AS = {"admin": ADMIN, "auditor": AUDITOR, "projectleider": PL, "coordinator": WR, "approver": SG2,
      "other": OTHER, "anonymous": None}
DEFINITION = Path(__file__).resolve().parents[1] / "workflows" / "wijkaanpak.yaml"
REF, FRESH = "wijkaanpak-noord", "wijkaanpak-zuid"
WEST, MIDDEN = "wijkaanpak-west", "wijkaanpak-midden"

ARGS = {
    "list": ["list"], "show": ["show", REF], "gate": ["gate", REF], "history": ["history", REF],
    "indicators": ["indicators", REF], "people list": ["people", "list"], "workflows list": ["workflows", "list"],
    "workflows show": ["workflows", "show", "wijkaanpak"], "workflows validate": ["workflows", "validate",
                                                                                 str(DEFINITION)],
    "config": ["config"], "info": ["info"], "init": ["init"], "demo": ["demo"],
    "audit verify": ["audit", "verify"], "audit head": ["audit", "head"], "audit query": ["audit", "query"],
    "audit phases": ["audit", "phases"], "report": ["report", REF, "--html", "{tmp}/r.html"],
    "audit key": ["audit", "key"], "audit prove": ["audit", "prove", "3"], "audit verifier": ["audit", "verifier"],
    "audit checkpoint": ["audit", "checkpoint"], "audit export": ["audit", "export", "--bundle", "{tmp}/bundel"],
    "audit purge": ["audit", "purge", "--before", "2026-01-01", "--reason", "Selectielijst 2020, 1.1.2"],
    "new": ["new", "Wijkaanpak Oost", "--wijk", "Oost", "--leader", PL],
    "assign": ["assign", REF, OTHER, "--role", "coordinator"],
    "complete": ["complete", REF, "coalitie", "--evidence", "Convenant v2"],
    # The contract is approved already in the template (once means once): a party signs it.
    "approve": ["approve", REF, "lokaal_contract_ondertekend", "--party", "gemeente", "--evidence", "getekend.pdf"],
    "deadline": ["deadline", REF, "coalitie", "2026-09-01"],
    "advance": ["advance", REF, "--reason", "gate gehaald"],
    "advance --override": ["advance", FRESH, "--override", "--reason", "besluit stuurgroep 28-05"],
    "indicator add": ["indicator", "add", REF, "veiligheid", "--label", "Veiligheidsbeleving", "--baseline", "6"],
    "measure": ["measure", REF, "bewoners", "55"],
    # CBS areas and open data (issue 16): REF lies in wijk WK016401 (the template).
    "measure import": ["measure", "import", "{data}/figures.csv", "--source", "csv", "--year", "2026"],
    "area": ["area", REF, "--buurt-code", "BU01640102"],
    "workflows export": ["workflows", "export", "wijkaanpak", "--zgw-zaaktype", "{tmp}/zaaktype",
                         "--selectielijstklasse", "https://selectielijst.example/api/v1/resultaten/1",
                         "--resultaattypeomschrijving", "https://selectielijst.example/api/v1/omschrijvingen/1"],
    "export": ["export", REF, "--zgw-zaak", "{tmp}/zaak", "--rsin", "002220647"],
    "people add": ["people", "add", "new@hengelo.example", "--name", "Nieuwe Collega"],
    "people forget": ["people", "forget", TARGET],
    # The programmes' own commands (issue 5).
    "interpret": ["interpret", REF, "--indicator", "bewoners", "--conclusion",
                  "Meer actieve bewoners dan bij de nulmeting; de buurtkamer trekt mensen."],
    "indicator catalogue": ["indicator", "catalogue"],
    "indicator set": ["indicator", "set", REF, "bewoners", "--target", "60", "--target-date", "2027-12-31"],
    "plan show": ["plan", "show", REF], "theme list": ["theme", "list", REF],
    "plan analyse": ["plan", "analyse", REF, "--strong", "Actieve buurtvereniging", "--bottleneck", "Weinig groen"],
    "plan partner": ["plan", "partner", REF, "Wijkracht"],
    "plan activity": ["plan", "activity", REF, "Buurtkamer openen", "--partner", "Welbions", "--year", "2027"],
    "plan update": ["plan", "update", REF, "1", "--status", "running"],
    "theme add": ["theme", "add", REF, "Veilig en schoon", "--result", "Minder overlast rond het winkelplein"],
    "import": ["import", "{data}/portfolio.csv"],
    # Reminders (issue 3): the template has a deadline on FRESH close enough for a reminder to be due.
    "reminders list": ["reminders", "list"], "reminders send": ["reminders", "send"],
    "scheduler run": ["scheduler", "run", "--once"],
    "mail preview": ["mail", "preview", FRESH, "deadline_nadert"],
    "mail test": ["mail", "test", "beheer@hengelo.example"],
    "reminders retry": ["reminders", "retry", "--failed"],  # the template has one failed message
    # The database itself (issue 6).
    "db upgrade": ["db", "upgrade"], "db current": ["db", "current"], "db history": ["db", "history"],
    "db copy": ["db", "copy", "--to", "{tmp}/copy.db"],
    "db backup": ["db", "backup", "{tmp}/backup.db"],
    "migrate": ["migrate", REF, "--to-version", "3", "--workflow", "{data}/wijkaanpak-v2.yaml"],
    # The daily loop (issue 12): West is stopped and Midden suspended in the template.
    "suspend": ["suspend", REF, "--reason", "wachten op de begroting"],
    "resume": ["resume", MIDDEN],
    "stop": ["stop", FRESH, "--reason", "besluit gemeenteraad"],
    "reopen": ["reopen", WEST, "--reason", "besluit herzien"],
    "withdraw": ["withdraw", REF, "coalitie", "--reason", "verkeerde versie"],
    "unassign": ["unassign", REF, WR, "--role", "coordinator"],
    "rename": ["rename", REF, "Wijkaanpak Noord-Oost"],
    "people edit": ["people", "edit", TARGET, "--name", "Tim Target-Jansen"],
    # The server (issue 18): serve checks and says what it would do; token 1 is TARGET's (the template).
    "serve": ["serve", "--check"],
    "token create": ["token", "create", "laptop"], "token list": ["token", "list"],
    "token revoke": ["token", "revoke", "1"],
}

# Allowed write commands that legitimately leave no audit event, and why.
NO_EVENT = {
    # Changes nothing in the database; the address need not be a person's, and personal
    # data stays out of the history.
    "mail test",
    # Reads one's own tokens: it needs to know who asks, so nobody named is refused, but it changes nothing.
    "token list",
}


def cli_commands() -> set[str]:
    names = set()
    for name, cmd in cli.commands.items():
        if isinstance(cmd, click.Group):
            names |= {f"{name} {sub}" for sub in cmd.commands}
        else:
            names.add(name)
    return names


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("perm") / "template.db"
    app = App.open(f"sqlite:///{path}", clock=lambda: NOW)
    app.db.init()
    services.add_person(app, ADMIN, name="Ada Admin", role="admin")
    for email, name, role in [(AUDITOR, "Otto Auditor", "auditor"), (PL, "Fleur Mensink", None),
                              (WR, "Erna Biezenaar", None), (SG1, "Robert Olde Heuvel", None),
                              (SG2, "Jennifer Havinga", None), (OTHER, "Olga Overig", None),
                              (TARGET, "Tim Target", None)]:
        services.add_person(app, email, name=name, role=role, acting=ADMIN)
    for name, wijk in (("Wijkaanpak Noord", "Noord"), ("Wijkaanpak Zuid", "Zuid"), ("Wijkaanpak West", "West"),
                       ("Wijkaanpak Midden", "Midden")):
        services.create_aanpak(app, name, wijk=wijk, gemeente="Hengelo", leader=PL, coordinators=(WR,),
                               approvers=(SG1, SG2), acting=PL)
    for key in ("coalitie", "analyse_visie", "lokaal_contract", "instrumenten_financiering"):
        services.complete(app, REF, key, evidence="doc.pdf", acting=PL)
    services.approve(app, REF, "lokaal_contract_akkoord", acting=SG1)
    services.add_indicator(app, REF, "bewoners", label="Actieve bewoners", baseline=40, acting=WR)
    services.add_partner(app, REF, "Welbions", acting=PL)
    services.add_activity(app, REF, "Schoonmaakactie", partner="Welbions", year=2026, acting=PL)
    services.set_deadline(app, FRESH, "coalitie", "2026-06-03", acting=PL)  # deadline_nadert is due now
    status.stop(app, WEST, reason="besluit gemeenteraad", acting=PL)
    status.suspend(app, MIDDEN, reason="pauze", acting=PL)
    with app.db.write() as conn:  # a message that failed earlier, for `reminders retry`
        rid = store.insert_reminder(conn, aanpak_id=1, rule="deadline_nadert", kind="before", criterion="coalitie",
                                    dedupe="failed-earlier", due_at=NOW, status="queued", created_at=NOW,
                                    updated_at=NOW)
        store.insert_message(conn, reminder_id=rid, person_id=3, role="projectleider", status="failed", attempts=1,
                             next_attempt_at=NOW, created_at=NOW, message_id="<reminder.x.3@hengelo.example>",
                             error="550 5.1.1 no such mailbox")
    change_areas(app, REF, wijk_code="WK016401", acting=PL)
    create_token(app, TARGET, "laptop")  # token 1, for `token revoke`
    app.close()
    (path.parent / "figures.csv").write_text("code,peildatum,bewoners\nWK016401,2026-06-01,57\n", encoding="utf-8")
    (path.parent / "wijkaanpak-v2.yaml").write_text(  # `migrate`: the same definition, one version up
        DEFINITION.read_text(encoding="utf-8").replace("\nversion: 2\n", "\nversion: 3\n", 1), encoding="utf-8")
    (path.parent / "portfolio.csv").write_text(
        "name,wijk,gemeente,workflow,phase,since,leader,indicators\n"
        f"Wijkaanpak Berflo Es,Berflo Es,Hengelo,wijkaanpak,execute,2025-09-01,{PL},actieve_bewoners=12->20\n",
        encoding="utf-8")
    return path


def chain(db: Path) -> tuple[int, str]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*), coalesce(max(hash), '') FROM audit_event "
                            "WHERE id = (SELECT max(id) FROM audit_event)").fetchone() or (0, "")


def event_count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM audit_event").fetchone()[0]


def test_every_cli_command_has_a_row_in_the_matrix():
    missing = cli_commands() - set(permissions.MATRIX)
    assert not missing, f"add these commands to wijkflow/permissions.py and tests/test_permissions.py: {missing}"
    # login/logout touch no database (this computer's sign-in): tests/test_remote_cli.py runs them against a server.
    assert set(ARGS) == set(permissions.MATRIX) - set(permissions.CLIENT)


def test_readme_shows_the_matrix():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert permissions.markdown() in readme


CASES = [(command, role) for command in ARGS for role in permissions.ROLES]


@pytest.mark.parametrize(("command", "role"), CASES, ids=[f"{c}-{r}" for c, r in CASES])
def test_command_as_role_follows_the_matrix(command, role, template, tmp_path):
    db = tmp_path / "wijkflow.db"
    shutil.copy(template, db)
    before = event_count(db)
    args = [a.replace("{tmp}", str(tmp_path)).replace("{data}", str(template.parent)) for a in ARGS[command]]
    env = {"WIJKFLOW_DATABASE_URL": str(db), "WIJKFLOW_NOW": NOW.isoformat(), "WIJKFLOW_CONFIG": "",
           "WIJKFLOW_OUTBOX_DIR": str(tmp_path / "outbox"), "WIJKFLOW_USER": AS[role] or ""}
    result = CliRunner().invoke(cli, args, env=env, catch_exceptions=False)
    allowed = role in permissions.MATRIX[command]
    after = event_count(db)
    if allowed:
        assert result.exit_code == 0, f"{command} as {role} should be allowed: {result.stderr}"
        if command in permissions.WRITE and command not in NO_EVENT:
            assert after > before, f"{command} changed something without an audit event"
        else:
            assert after == before, f"reading with {command} wrote an event"
    else:
        assert result.exit_code == 5, f"{command} as {role} should be refused (exit 5): {result.output}"
        assert result.stderr.startswith("Error: ") and len(result.stderr.strip().splitlines()) == 1
        assert after == before, f"a refused {command} left an event"


def test_override_is_recorded_as_its_own_event_with_the_reason(template, tmp_path):
    db = tmp_path / "wijkflow.db"
    shutil.copy(template, db)
    app = App.open(f"sqlite:///{db}", clock=lambda: NOW)
    r = services.advance(app, FRESH, acting=ADMIN, override=True, reason="besluit stuurgroep 28-05")
    assert r["override"] is True and r["to"] == "design"
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT type, reason, payload FROM audit_event ORDER BY id DESC LIMIT 2").fetchall()
    assert rows[0][0] == "gate_overridden" and rows[0][1] == "besluit stuurgroep 28-05"
    assert '"unmet":["coalitie"' in rows[0][2]
    assert rows[1][0] == "phase_changed" and '"override":true' in rows[1][2]
    app.close()


def test_override_without_reason_is_refused_before_anything_is_written(template, tmp_path, ):
    db = tmp_path / "wijkflow.db"
    shutil.copy(template, db)
    env = {"WIJKFLOW_DATABASE_URL": str(db), "WIJKFLOW_NOW": NOW.isoformat(), "WIJKFLOW_CONFIG": "",
           "WIJKFLOW_USER": ADMIN}
    r = CliRunner().invoke(cli, ["advance", FRESH, "--override"], env=env)
    assert r.exit_code == 2
    assert r.stderr == "Error: An override needs a --reason: it is recorded in the history.\n"


def test_auditor_with_a_role_on_an_aanpak_still_changes_nothing(template, tmp_path):
    db = tmp_path / "wijkflow.db"
    shutil.copy(template, db)
    app = App.open(f"sqlite:///{db}", clock=lambda: NOW)
    services.assign_role(app, REF, AUDITOR, role="projectleider", acting=PL)
    before = event_count(db)
    env = {"WIJKFLOW_DATABASE_URL": str(db), "WIJKFLOW_NOW": NOW.isoformat(), "WIJKFLOW_CONFIG": "",
           "WIJKFLOW_USER": AUDITOR}
    r = CliRunner().invoke(cli, ["complete", REF, "coalitie", "--evidence", "x"], env=env)
    assert r.exit_code == 5
    assert r.stderr == ("Error: auditor@hengelo.example is an auditor: auditors read everything and "
                        "change nothing.\n")
    assert event_count(db) == before
    app.close()


def test_first_person_may_be_added_by_anyone_then_only_by_admins(tmp_path):
    app = App.open(f"sqlite:///{tmp_path / 'w.db'}", clock=lambda: NOW)
    app.db.init()
    services.add_person(app, "a@x.example", name="A")  # no admin yet: bootstrap
    services.add_person(app, ADMIN, name="Ada Admin", role="admin")
    with pytest.raises(Exception, match="Only an administrator may add people"):
        services.add_person(app, "b@x.example", name="B", acting="a@x.example")
    services.add_person(app, "b@x.example", name="B", acting=ADMIN)
    app.close()


def test_people_may_erase_themselves_but_not_others(template, tmp_path):
    db = tmp_path / "wijkflow.db"
    shutil.copy(template, db)
    env = {"WIJKFLOW_DATABASE_URL": str(db), "WIJKFLOW_NOW": NOW.isoformat(), "WIJKFLOW_CONFIG": "",
           "WIJKFLOW_USER": OTHER}
    r = CliRunner().invoke(cli, ["people", "forget", OTHER], env=env)
    assert r.exit_code == 0, r.stderr


def _invoke(db: Path, tmp_path: Path, user: str | None, *args: str):
    env = {"WIJKFLOW_DATABASE_URL": str(db), "WIJKFLOW_NOW": NOW.isoformat(), "WIJKFLOW_CONFIG": "",
           "WIJKFLOW_OUTBOX_DIR": str(tmp_path / "outbox"), "WIJKFLOW_USER": user or ""}
    return CliRunner().invoke(cli, list(args), env=env)


def test_the_services_own_jobs_run_without_as_but_not_as_an_auditor(template, tmp_path):
    db = tmp_path / "wijkflow.db"
    shutil.copy(template, db)
    before = event_count(db)
    r = _invoke(db, tmp_path, AUDITOR, "scheduler", "run", "--once")
    assert (r.exit_code, r.stderr) == (5, "Error: auditor@hengelo.example is an auditor: auditors read "
                                          "everything and change nothing.\n")
    assert event_count(db) == before and not (tmp_path / "outbox").exists()
    r = _invoke(db, tmp_path, None, "scheduler", "run", "--once")
    assert r.exit_code == 0, r.stderr
    # deadline_nadert to the pl and the coordinator, and "ready to advance" to the pl of the aanpak whose
    # gate is met; "waiting for your approval", scheduled before the approval came, is cancelled.
    assert "sweep: 3 sent, 0 to retry, 0 failed, 1 cancelled\n" in r.stderr
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 3
    r = _invoke(db, tmp_path, None, "reminders", "send")
    assert r.exit_code == 0 and r.stdout.startswith("Sent 0 message(s)")  # each one went out once


def test_only_an_administrator_sends_a_test_message(template, tmp_path):
    db = tmp_path / "wijkflow.db"
    shutil.copy(template, db)
    r = _invoke(db, tmp_path, PL, "mail", "test", "beheer@hengelo.example")
    assert (r.exit_code, r.stderr) == (5, f"Error: Only an administrator may send a test message; {PL} is not "
                                          "one.\n")
    assert not (tmp_path / "outbox").exists()
    r = _invoke(db, tmp_path, ADMIN, "mail", "test", "beheer@hengelo.example")
    assert r.exit_code == 0 and len(list((tmp_path / "outbox").glob("*.eml"))) == 1
