"""The defects a new user tripped over (issue 12, items 2, 4-7, 10-12), each with the command that showed it."""

from __future__ import annotations

import json

import pytest
from conftest import ADMIN, PL, WR

from wijkflow import services
from wijkflow.definitions import IndicatorsCriterion, load_file, shipped_dir

SHIPPED = sorted(p.stem for p in shipped_dir().glob("*.yaml"))


# --- 2. old figures do not satisfy "nieuwe meting" ---------------------------------------------


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_new_measurement_criterion_counts_only_this_visit(name):
    d = load_file(shipped_dir() / f"{name}.yaml")
    counting = [k for k, c in d.criteria.items() if isinstance(c, IndicatorsCriterion) and c.min_measurements]
    assert counting and all(d.criteria[k].since_phase_entry for k in counting)  # type: ignore[union-attr]
    assert d.warnings() == []


@pytest.mark.parametrize("name", SHIPPED)
def test_a_measurement_from_before_the_visit_does_not_count(name, app, people, clock):
    d = load_file(shipped_dir() / f"{name}.yaml")
    t = next(t for t in d.transitions if "metingen" in t.gate)
    into = next(x for x in d.transitions if x.dest == t.source)
    a = services.create_aanpak(app, f"Proef {name}", wijk="Noord", leader=PL, coordinators=(WR,), workflow=name,
                               phase=into.source, since="2026-01-05", acting=PL)["slug"]
    for key in ("actieve_bewoners", "veiligheidsbeleving"):
        services.add_indicator(app, a, key, from_catalogue=True, baseline=5, baseline_date="2026-01-05", acting=WR)
        services.measure(app, a, key, 6, on="2026-02-01", acting=WR)
    clock.forward(1)
    services.advance(app, a, acting=ADMIN, to=t.source, override=True, reason="test")

    def metingen() -> bool:
        gate = services.gate_status(app, a, to=t.dest)
        return next(c for c in gate["criteria"] if c["key"] == "metingen")["met"]

    assert not metingen()
    # Recorded now but taken before the visit began: still old.
    services.measure(app, a, "actieve_bewoners", 7, on="2026-02-02", acting=WR)
    services.measure(app, a, "veiligheidsbeleving", 7, on="2026-02-02", acting=WR)
    assert not metingen()
    for key in ("actieve_bewoners", "veiligheidsbeleving"):
        services.measure(app, a, key, 8, acting=WR)
    assert metingen()


def test_the_validator_warns_about_a_new_measurement_criterion_without_recency(tmp_path, run):
    text = (shipped_dir() / "wijkprogramma.yaml").read_text(encoding="utf-8").replace(
        "    since_phase_entry: true\n", "")
    path = tmp_path / "oud.yaml"
    path.write_text(text, encoding="utf-8")
    r = run("workflows", "validate", str(path))
    assert r.exit_code == 0
    assert "Warning: " in r.stderr and "criteria.metingen: counts measurements taken before the phase" in r.stderr


# --- 6. min_days counts Europe/Amsterdam calendar days ------------------------------------------


def test_min_days_counts_calendar_days_across_daylight_saving(app, people, run):
    services.create_aanpak(app, "Wijkaanpak Noord", wijk="Noord", leader=PL, phase="execute", since="2026-01-15",
                           acting=PL)
    r = run("gate", "wijkaanpak-noord", "--format", "json", env={"WIJKFLOW_NOW": "2026-04-15T00:30"})
    gate = json.loads(r.stdout)
    days = next(c for c in gate["criteria"] if c["kind"] == "min_days")
    assert days["met"], days["why"]
    assert days["why"].startswith("90 days in phase")
    shown = json.loads(run("show", "wijkaanpak-noord", "--format", "json",
                           env={"WIJKFLOW_NOW": "2026-04-15T00:30"}).stdout)
    assert shown["days_in_phase"] == 90
    r = run("gate", "wijkaanpak-noord", "--format", "json", env={"WIJKFLOW_NOW": "2026-04-14T23:30"})
    days = next(c for c in json.loads(r.stdout)["criteria"] if c["kind"] == "min_days")
    assert not days["met"] and days["why"] == "89 of 90 days in phase; met from 2026-04-15"


# --- 4. filters accept the key or the Dutch label, and refuse what matches nothing ------------------


def test_list_filters_take_key_or_label_and_refuse_unknown_values(app, aanpak, run):
    services.advance(app, aanpak, acting=ADMIN, override=True, reason="test")
    for phase in ("design", "Ontwerpen", "ontwerpen", "ONTWERPEN"):
        r = run("list", "--phase", phase)
        assert r.exit_code == 0 and "wijkaanpak-noord" in r.stdout, phase
    r = run("list", "--phase", "uitvoeren")  # the short Dutch label: valid, nothing in it
    assert (r.exit_code, r.stdout.strip()) == (0, "No wijkaanpakken match.")
    r = run("list", "--phase", "nergens")
    assert r.exit_code == 4 and r.stderr.startswith("Error: No workflow in this database has a phase 'nergens' "
                                                    "(phases: closed (Afgesloten), design (Ontwerpen)")
    r = run("list", "--wijk", "Onbekend")
    assert (r.exit_code, r.stderr) == (4, "Error: No wijkaanpak is in wijk 'Onbekend' (`wijkflow list` shows the "
                                          "wijken).\n")
    assert run("list", "--wijk", "noord").exit_code == 0
    r = run("list", "--gemeente", "Enschede", "--format", "csv")
    assert r.exit_code == 4 and r.stdout == ""
    r = run("audit", "query", "--phase", "Ontwerpen")
    assert r.exit_code == 0 and "Ontwerpen" in r.stdout


# --- 5. every documented event type is a valid --type ------------------------------------------------


def test_audit_query_accepts_every_event_type_before_it_happened(app, run):
    from wijkflow.events import EVENT_TYPES

    for kind in EVENT_TYPES:
        r = run("audit", "query", "--type", kind)
        assert r.exit_code == 0, (kind, r.stderr)


# --- 7. --debug adds a traceback, never another exit code ----------------------------------------------


def test_debug_keeps_the_exit_code(app, run, sh):
    plain = sh("show", "99")
    debug = sh("--debug", "show", "99")
    assert plain.returncode == debug.returncode == 4
    assert "Traceback" in debug.stderr and debug.stderr.rstrip().endswith(plain.stderr.rstrip())
    r = run("--debug", "show", "99")
    assert r.exit_code == 4


# --- 12. with --format json, errors are JSON on stderr ----------------------------------------------------


def test_json_errors_on_stderr(app, aanpak, run, tmp_path):
    r = run("show", "99", "--format", "json")
    assert r.exit_code == 4 and r.stdout == ""
    assert json.loads(r.stderr) == {"error": "No wijkaanpak '99' (use its number or slug; `wijkflow list` shows "
                                             "them).", "exit_code": 4, "type": "NotFound", "details": []}
    r = run("advance", aanpak, "--format", "json", user=PL)
    err = json.loads(r.stderr)
    assert r.exit_code == err["exit_code"] == 3 and err["type"] == "GateNotMet" and len(err["details"]) >= 4
    bad = tmp_path / "bad.csv"
    bad.write_text("name,wijk\nZonder leider,Noord\n", encoding="utf-8")
    r = run("import", str(bad), "--format", "json", user=PL)
    err = json.loads(r.stderr)
    assert r.exit_code == 2 and err["type"] == "ImportRejected" and err["details"] == ["line 2: 'leader' is missing"]


# --- 10, 11, 12: reminders for cron and scripts -------------------------------------------------------


def test_reminders_send_exits_1_when_a_message_failed_and_list_until_shows_it(app, people, run, clock):
    from smtp_server import Server

    services.create_aanpak(app, "Wijkaanpak Berflo Es", wijk="Berflo Es", leader=PL, coordinators=(WR,),
                           acting=PL, phase="monitor", since="2025-07-01")
    with Server() as server:
        server.handler.refuse[WR] = "550 5.1.1 <erna@hengelo.example>: Recipient address rejected"
        env = {"WIJKFLOW_SMTP_HOST": "127.0.0.1", "WIJKFLOW_SMTP_PORT": str(server.port),
               "WIJKFLOW_SMTP_SECURITY": "none", "WIJKFLOW_MAIL_FROM": "wijkflow@hengelo.example"}
        r = run("reminders", "send", env=env)
    assert r.exit_code == 1, (r.stdout, r.stderr)
    assert r.stdout.startswith("Sent ") and "failed" in r.stdout and "550" in r.stdout
    today = clock.now.date().isoformat()
    listed = json.loads(run("reminders", "list", "--until", today, "--format", "json").stdout)
    statuses = {x["status"] for x in listed}
    assert {"sent", "failed"} <= statuses, statuses
    assert all(x["due"][10] == "T" and x["due"][-6] in "+-" for x in listed)  # ISO 8601 with the offset
    table = run("reminders", "list", "--until", today).stdout
    assert "failed" in table and "sent" in table


# --- 13. README's walkthrough works as written -------------------------------------------------------


def test_the_readme_walkthrough_runs_as_written(app, run):
    import shlex
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = readme.split("## A first wijkaanpak, step by step", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    user = None
    for line in block.replace("\\\n", " ").splitlines():
        line = line.split("  #", 1)[0].strip()
        if line.startswith("export WIJKFLOW_USER="):
            user = line.split("=", 1)[1]
        if not line.startswith("wijkflow ") or line.startswith("wijkflow init"):
            continue
        if "--to execute" in line:  # from monitor, later on: not at this point of the walk
            break
        args = shlex.split(line)[1:]
        r = run(*args, user=user)
        expected = 3 if args == ["advance", "wijkaanpak-noord"] else 0
        assert r.exit_code == expected, (line, r.stderr)
    assert services.show_aanpak(app, "wijkaanpak-noord")["phase"] == "design"
    assert "until the reminders module is merged" not in readme
