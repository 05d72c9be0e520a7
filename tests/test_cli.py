"""The CLI as users meet it: messages, exit codes, formats, and nothing written on refusal."""

import csv
import io
import json
import os
from pathlib import Path

import click
import pytest
from conftest import PL, SG1, WR

from wijkflow.cli import cli


def all_commands(group=cli, prefix=()):
    for name, cmd in sorted(group.commands.items()):
        yield prefix + (name,)
        if isinstance(cmd, click.Group):
            yield from all_commands(cmd, prefix + (name,))


@pytest.mark.parametrize("command", list(all_commands()), ids=" ".join)
def test_every_command_has_help_that_teaches(run, command):
    r = run(*command, "--help")
    assert r.exit_code == 0
    assert "Usage: " in r.stdout
    summary = r.stdout.split("\n\n")[1].strip()
    assert len(summary) > 15, f"{command} needs a real help text"


def test_every_command_is_in_the_readme():
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    missing = [" ".join(c) for c in all_commands() if f"wijkflow {' '.join(c)}" not in readme]
    assert not missing, f"README does not mention: {missing}"


@pytest.mark.parametrize("args, code, message", [
    (("show", "bestaat-niet"), 4,
     "Error: No wijkaanpak 'bestaat-niet' (use its number or slug; `wijkflow list` shows them).\n"),
    (("show", "999"), 4, "Error: No wijkaanpak '999' (use its number or slug; `wijkflow list` shows them).\n"),
    (("complete", "wijkaanpak-noord", "onbekend", "--evidence", "x"), 4,
     "Error: Workflow wijkaanpak v2 has no criterion 'onbekend'; `wijkflow gate wijkaanpak-noord` lists the ones "
     "that count now.\n"),
    (("advance", "wijkaanpak-noord", "--to", "nergens"), 4,
     "Error: Workflow wijkaanpak v2 has no phase 'nergens' (phases: initiate, design, execute, monitor, evaluate, "
     "closed).\n"),
    (("advance", "wijkaanpak-noord", "--to", "closed"), 2,
     "Error: Workflow wijkaanpak v2 has no transition from 'initiate' to 'closed' (from 'initiate' you can go to: "
     "design).\n"),
    (("new", "", "--wijk", "Noord", "--leader", PL), 2, "Error: The name may not be empty.\n"),
    (("new", "x" * 10_000, "--wijk", "Noord", "--leader", PL), 2,
     "Error: The name is 10000 characters long; at most 200 are allowed.\n"),
    (("new", "Twee\nregels", "--wijk", "Noord", "--leader", PL), 2,
     "Error: The name contains control characters (such as a line break); remove them.\n"),
    (("new", "X", "--wijk", "Noord", "--leader", "niemand@x.nl"), 4,
     "Error: No projectleider with email niemand@x.nl; add them first with `wijkflow people add EMAIL --name "
     "NAME`.\n"),
    (("new", "X", "--wijk", "Noord", "--leader", PL, "--phase", "execute", "--since", "2026-13-01"), 2,
     "Error: '2026-13-01' is not a valid --since date: that day does not exist.\n"),
    (("new", "X", "--wijk", "Noord", "--leader", PL, "--phase", "execute", "--since", "1-3-2026"), 2,
     "Error: '1-3-2026' is not a valid --since date; use YYYY-MM-DD, e.g. 2026-03-01.\n"),
    (("new", "X", "--wijk", "Noord", "--leader", PL, "--phase", "execute"), 2,
     "Error: --phase needs --since DATE: the day the running programme entered that phase.\n"),
    (("new", "X", "--wijk", "Noord", "--leader", PL, "--workflow", "onbekend"), 4,
     "Error: No workflow definition named 'onbekend' (known: gebiedsgericht, wijkaanpak, wijkontwikkelingsplan, "
     "wijkprogramma).\n"),
    (("deadline", "wijkaanpak-noord", "lokaal_contract", "2026-02-30"), 2,
     "Error: '2026-02-30' is not a valid deadline: that day does not exist.\n"),
    (("measure", "wijkaanpak-noord", "onbekend", "3"), 4,
     "Error: Wijkaanpak Noord has no indicator 'onbekend' (known: none yet).\n"),
    (("measure", "wijkaanpak-noord", "x", "veel"), 2, "Error: The value 'veel' is not a number.\n"),
    (("people", "add", "geen-adres", "--name", "X"), 2, "Error: 'geen-adres' is not an email address.\n"),
    (("people", "add", "jöran@hengelo.example", "--name", "X"), 2,
     "Error: 'jöran@hengelo.example' has letters outside ASCII; wijkflow's reminders can only reach plain ASCII "
     "addresses.\n"),
    (("people", "add", PL, "--name", "X"), 6, f"Error: {PL} is already known; nothing was changed.\n"),
    (("assign", "wijkaanpak-noord", WR, "--role", "approver"), 5,
     "Error: Only someone with the projectleider role on Wijkaanpak Noord may assign roles; "
     f"{SG1} does not have it (see `wijkflow show wijkaanpak-noord`).\n"),
])
def test_bad_input_gets_one_sentence_and_exit_code_and_writes_nothing(run, aanpak, db_state, args, code, message):
    before = db_state()
    user = SG1 if args[0] == "assign" else PL
    r = run(*args, user=user)
    assert (r.exit_code, r.stderr) == (code, message)
    assert "Traceback" not in r.stdout + r.stderr
    assert db_state() == before


@pytest.mark.parametrize("name, slug", [
    ("Sint Marten en Sonsbeek", "sint-marten-en-sonsbeek"),
    ("Schaarsbergen e.o.", "schaarsbergen-e-o"),
    ("'; drop table aanpak; --", "drop-table-aanpak"),
    ("Wijkaanpak Noord — De Noork", "wijkaanpak-noord-de-noork"),
    ("Île-de-Sonsbeek “Oost”", "ile-de-sonsbeek-oost"),
    ("2026", "aanpak-2026"),
])
def test_names_with_diacritics_and_quotes_are_kept_exactly(run, people, name, slug):
    r = run("new", name, "--wijk", "Zuid", "--leader", PL, "--format", "json", user=PL)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["slug"] == slug
    shown = json.loads(run("show", slug, "--format", "json").stdout)
    assert shown["name"] == name


def test_same_name_twice_gets_a_second_slug(run, people):
    run("new", "Noord", "--wijk", "Noord", "--leader", PL, user=PL)
    r = run("new", "Noord", "--wijk", "Noord", "--leader", PL, "--format", "json", user=PL)
    assert json.loads(r.stdout)["slug"] == "noord-2"


def test_missing_and_read_only_database_directory(run, tmp_path):
    r = run("init", env={"WIJKFLOW_DATABASE_URL": str(tmp_path / "nergens" / "w.db")})
    assert (r.exit_code, r.stderr) == (2, f"Error: The database directory {tmp_path / 'nergens'} does not exist.\n")
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "w.db").write_bytes(b"")
    os.chmod(ro / "w.db", 0o444)
    os.chmod(ro, 0o555)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        r = run("init", env={"WIJKFLOW_DATABASE_URL": str(ro / "w.db")})
        assert r.exit_code == 2
        assert r.stderr == f"Error: The database at {ro / 'w.db'} is read-only.\n"
    finally:
        os.chmod(ro, 0o755)


def test_reading_before_init_says_how_to_start(run, tmp_path):
    where = tmp_path / "leeg.db"
    r = run("list", env={"WIJKFLOW_DATABASE_URL": str(where)})
    assert (r.exit_code, r.stderr) == (2, f"Error: There is no database at {where} yet; run `wijkflow init` to "
                                          "create it.\n")
    assert not where.exists()


def test_init_is_idempotent(run, db_path, tmp_path):
    fresh = tmp_path / "nieuw.db"
    env = {"WIJKFLOW_DATABASE_URL": str(fresh)}
    first, key = run("init", env=env).stdout.splitlines()
    assert first == f"Created the wijkflow database at {fresh}."
    assert key.startswith("Audit checkpoints are signed with the key in ") and key.endswith("wijkflow audit key).")
    assert run("init", env=env).stdout == f"Checked the wijkflow database at {fresh}.\n{key}\n"


def test_gate_and_dry_run_show_what_blocks(run, aanpak):
    run("complete", aanpak, "coalitie", "--evidence", "convenant.pdf", user=PL)
    r = run("gate", aanpak)
    assert r.exit_code == 0
    assert "Wijkaanpak Noord: Initiëren [initiate] -> Ontwerpen [design] \"Naar ontwerpen\": 4 criteria still block" \
        in r.stdout
    assert "[x] Coalitie en bestuurlijke alliantie [coalitie]: completed by Fleur Mensink on 2026-03-02" in r.stdout
    assert "evidence: convenant.pdf" in r.stdout
    r = run("advance", aanpak, "--dry-run", user=PL)
    assert r.exit_code == 3
    assert r.stdout.startswith("Dry run: Wijkaanpak Noord would be refused: Initiëren [initiate] -> Ontwerpen")
    g = json.loads(run("gate", aanpak, "--format", "json").stdout)
    assert g["passed"] is False and g["criteria"][0]["by"]["email"] == PL


def test_history_exports_as_json_and_csv(run, aanpak):
    run("complete", aanpak, "coalitie", "--evidence", "https://x.nl/c.pdf", user=PL)
    events = json.loads(run("history", aanpak, "--format", "json").stdout)
    assert [e["type"] for e in events] == ["aanpak_created", "role_assigned", "role_assigned", "role_assigned",
                                           "role_assigned", "criterion_completed"]
    assert events[-1]["evidence"] == "https://x.nl/c.pdf" and events[-1]["actor"]["email"] == PL
    rows = list(csv.DictReader(io.StringIO(run("history", aanpak, "--format", "csv").stdout)))
    assert len(rows) == 6
    assert rows[-1]["actor_email"] == PL and rows[-1]["evidence"] == "https://x.nl/c.pdf"
    assert json.loads(rows[-1]["payload"])["criterion"] == "coalitie"
    table = run("history", aanpak).stdout
    assert "criterion completed: coalitie" in table and "Fleur Mensink" in table


def test_list_filters_and_formats(run, aanpak, people):
    run("new", "Klarendal", "--wijk", "Klarendal", "--gemeente", "Arnhem", "--leader", PL, "--phase", "monitor",
        "--since", "2025-01-06", user=PL)
    rows = json.loads(run("list", "--format", "json").stdout)
    assert [r["slug"] for r in rows] == ["wijkaanpak-noord", "klarendal"]
    assert [r["slug"] for r in json.loads(run("list", "--gemeente", "arnhem", "--format", "json").stdout)] == [
        "klarendal"]
    stalled = json.loads(run("list", "--stalled", "--format", "json").stdout)
    assert [r["slug"] for r in stalled] == ["klarendal"] and stalled[0]["days_in_phase"] == 420
    assert "No wijkaanpakken match." in run("list", "--phase", "evaluate").stdout
    assert run("list", "--format", "csv").stdout.splitlines()[0].startswith("id,slug,name,wijk")


def test_show_text_names_people_and_gates(run, aanpak):
    r = run("show", aanpak)
    assert r.exit_code == 0
    assert "#1 Wijkaanpak Noord  (wijkaanpak-noord)" in r.stdout
    assert "Phase: Initiëren [initiate] since 2026-03-02 (0 days)" in r.stdout
    assert "projectleider: Fleur Mensink <fleur@hengelo.example>" in r.stdout
    assert "Gate to Ontwerpen [design] \"Naar ontwerpen\": blocked, 0/6 criteria met" in r.stdout


PG_URL = "postgresql+psycopg://wijkflow:Geheim-Wachtwoord@db.hengelo.example:5432/wijken"
PG_MASKED = "postgresql+psycopg://wijkflow:********@db.hengelo.example:5432/wijken"


@pytest.mark.parametrize("where", ["env", "flag", "file"])
def test_config_masks_every_password_wherever_it_was_set(run, tmp_path, where):
    toml = tmp_path / "wijkflow.toml"
    toml.write_text(f'database_url = "{PG_URL}"\nsmtp_password = "Geheim-Wachtwoord"\n', encoding="utf-8")
    env = {"WIJKFLOW_DATABASE_URL": "", "WIJKFLOW_SMTP_PASSWORD": "", "WIJKFLOW_CONFIG": ""}
    args: list[str] = []
    if where == "env":
        env.update({"WIJKFLOW_DATABASE_URL": PG_URL, "WIJKFLOW_SMTP_PASSWORD": "Geheim-Wachtwoord"})
    elif where == "flag":
        args = ["--db", PG_URL]
        env["WIJKFLOW_SMTP_PASSWORD"] = "Geheim-Wachtwoord"
    else:
        args = ["--config", str(toml)]
    for command in (["config"], ["config", "--format", "json"], ["info"]):
        r = run(*args, *command, env=env)
        assert r.exit_code == 0, r.stderr
        assert "Geheim" not in r.stdout and "wijkflow:********@" in r.stdout
    shown = json.loads(run(*args, "config", "--format", "json", env=env).stdout)
    assert shown["database_url"] == {"value": PG_MASKED, "from": {"env": "env WIJKFLOW_DATABASE_URL", "flag": "flag",
                                                                  "file": f"file {toml}"}[where]}
    assert shown["smtp_password"]["value"] == "********"


def test_config_shows_each_setting_as_given_and_where_it_came_from(run, tmp_path):
    toml = tmp_path / "wijkflow.toml"
    toml.write_text('user = "uit-bestand@x.nl"\ntimezone = "Europe/London"\nclosing_days = ["2026-12-24"]\n'
                    'reminder_hour = 8\n', encoding="utf-8")
    env = {"WIJKFLOW_USER": "uit-omgeving@x.nl", "WIJKFLOW_SMTP_TIMEOUT": "5", "WIJKFLOW_MAIL_DIGEST": "1"}
    shown = json.loads(run("--as", "vlag@x.nl", "--config", str(toml), "config", "--format", "json", env=env).stdout)
    assert shown["user"] == {"value": "vlag@x.nl", "from": "flag"}
    assert shown["timezone"] == {"value": "Europe/London", "from": f"file {toml}"}
    assert shown["closing_days"] == {"value": ["2026-12-24"], "from": f"file {toml}"}
    assert shown["reminder_hour"] == {"value": 8, "from": f"file {toml}"}
    assert shown["smtp_timeout"] == {"value": "5", "from": "env WIJKFLOW_SMTP_TIMEOUT"}
    assert shown["mail_digest"] == {"value": "1", "from": "env WIJKFLOW_MAIL_DIGEST"}
    assert shown["lease_seconds"] == {"value": 300.0, "from": "default"}
    assert shown["config_file"] == {"value": str(toml), "from": "default"}


@pytest.mark.parametrize("name, value, message", [
    ("WIJKFLOW_REMINDER_HOUR", "25", "Error: WIJKFLOW_REMINDER_HOUR must be an hour of the day (0-23).\n"),
    ("WIJKFLOW_CLOSING_DAYS", "2026-02-30", "Error: Closing day '2026-02-30' is not a date (YYYY-MM-DD).\n"),
    ("WIJKFLOW_SMTP_TIMEOUT", "snel", "Error: WIJKFLOW_SMTP_TIMEOUT 'snel' is not a number of seconds.\n"),
    ("WIJKFLOW_REMINDER_SHIFT", "later", "Error: WIJKFLOW_REMINDER_SHIFT must be next_working_day or none, "
                                         "not 'later'.\n"),
    ("WIJKFLOW_SMTP_PORT", "vijf", "Error: The SMTP port 'vijf' is not a number.\n"),
])
def test_a_bad_setting_is_refused_in_one_sentence_by_any_command(run, aanpak, name, value, message):
    for command in (["show", aanpak], ["config"]):
        r = run(*command, env={name: value})
        assert (r.exit_code, r.stderr) == (2, message)


def test_settings_keep_secrets_out_of_their_repr():
    from wijkflow.config import load_settings

    s = load_settings(env={"WIJKFLOW_CONFIG": "", "WIJKFLOW_DATABASE_URL": PG_URL,
                           "WIJKFLOW_SMTP_PASSWORD": "Geheim-Wachtwoord"})
    assert "Geheim" not in repr(s) and "Geheim" not in str(s)
    assert s.database_url.get_secret_value() == PG_URL
