"""Every audit event records where it came from beside the person it claims (BIO 12.4.1): the OS account and
host for the local CLI, the sign-in method and client for the server. The leaf commits to it, so an edited
origin is caught by `audit verify` and the standalone verifier; events written before revision 0008 have
none and verify as they did. `identity = "server"` refuses every local change made in a person's name."""

from __future__ import annotations

import getpass
import json
import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import ADMIN, PL, SG1

from wijkflow import provenance, services, store
from wijkflow.app import App
from wijkflow.errors import NotAllowed

WEB = {"via": "web", "method": "oidc", "host": "wijkflow.hengelo.example", "client": "192.0.2.7"}
WORKSTATION = {"via": "cli", "os_user": "jan", "host": "werkplek-12"}
SENTENCE = ("Error: This installation takes identity from its server (identity = \"server\"): sign in with "
            "`wijkflow login SERVER` and run the command with --server SERVER.\n")
UPGRADE = Path(__file__).resolve().parent / "data" / "upgrade"
# The account this test process runs as: what getpass.getuser() says unless LOGNAME / USER say otherwise.
ACCOUNT = pwd.getpwuid(os.geteuid()).pw_name


def stored_origins(app: App) -> dict[int, str | None]:
    with app.db.read() as conn:
        return dict(conn.execute(sa.text("SELECT id, origin FROM audit_event ORDER BY id")).all())


# --- the origin itself ---------------------------------------------------------------------------------------


def test_the_local_origin_is_the_os_account_and_host_of_this_process():
    assert provenance.current() == {"via": "cli", "os_user": ACCOUNT, "host": socket.gethostname()}
    assert provenance.verified() is False


def test_the_account_is_the_processs_own_not_what_logname_or_user_say(monkeypatch):
    """getpass.getuser() believes LOGNAME / USER, which anyone sets as easily as --as: the uid decides."""
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.setenv(name, "fleur")
    assert getpass.getuser() == "fleur" and provenance.os_user() == ACCOUNT


def test_an_account_without_a_name_still_gives_an_origin(monkeypatch):
    def no_entry(uid: int):
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.setattr(pwd, "getpwuid", no_entry)
    assert provenance.os_user() == f"uid:{os.geteuid()}"


def test_acting_through_sets_the_origin_for_the_block_only_and_only_the_server_is_verified():
    with provenance.acting_through({**WEB, "unused": None}) as given:
        assert provenance.current() == given == WEB and provenance.verified()
        with provenance.acting_through(WORKSTATION):
            assert provenance.current() == WORKSTATION and not provenance.verified()
        assert provenance.verified()
    assert provenance.current()["via"] == "cli" and not provenance.verified()
    for bad in ({"method": "oidc"}, {"via": "web", "client": 7}, {"via": "web", "Bad Key": "x"},
                {"via": "web", "host": "x" * 300}):
        with pytest.raises(ValueError), provenance.acting_through(bad):  # type: ignore[arg-type]
            pass


def test_serving_is_acting_through_with_this_servers_host():
    with provenance.serving("api", "token", "192.0.2.9") as origin:
        assert origin == {"via": "api", "method": "token", "host": socket.gethostname(), "client": "192.0.2.9"}
        assert provenance.verified()
    with pytest.raises(ValueError), provenance.serving("cli", "token", None):
        pass


def test_describe_says_it_in_a_few_words():
    assert provenance.describe(WORKSTATION) == "via cli (jan@werkplek-12)"
    assert provenance.describe(WEB) == "via web (oidc from 192.0.2.7)"
    assert provenance.describe({"via": "api", "method": "token"}) == "via api (token)"
    assert provenance.describe(None) == ""


# --- recorded with every event ----------------------------------------------------------------------------


def test_an_event_from_the_installed_command_records_the_os_account_and_host(sh, app, aanpak):
    # LOGNAME / USER naming someone else change nothing: the account is the process's own.
    r = sh("complete", aanpak, "coalitie", "--evidence", "convenant.pdf", user=PL,
           env={"LOGNAME": "fleur", "USER": "fleur"})
    assert r.returncode == 0, r.stderr
    r = sh("audit", "query", "--type", "criterion_completed", "--format", "json")
    (event,) = json.loads(r.stdout)
    assert event["origin"] == {"via": "cli", "os_user": ACCOUNT, "host": socket.gethostname()}
    assert event["actor"]["email"] == PL  # the claim, beside where it really came from
    r = sh("audit", "verify")
    assert r.returncode == 0, r.stderr


def test_inside_the_server_its_origin_is_recorded_and_shown(app, aanpak, run):
    with provenance.acting_through(WEB):
        services.complete(app, aanpak, "coalitie", evidence="convenant.pdf", acting=PL)
    origins = stored_origins(app)
    assert json.loads(origins[max(origins)]) == WEB
    assert origins[max(origins)] == ('{"client":"192.0.2.7","host":"wijkflow.hengelo.example","method":"oidc",'
                                     '"via":"web"}')  # canonical: sorted, no spaces
    assert all(json.loads(o)["via"] == "cli" for i, o in origins.items() if i != max(origins))
    history = json.loads(run("history", aanpak, "--format", "json").stdout)
    assert history[-1]["origin"] == WEB
    assert "via web (oidc from 192.0.2.7)" in run("history", aanpak).stdout
    table = run("audit", "query", "--type", "criterion_completed").stdout.splitlines()
    assert table[-1].strip() == "via web (oidc from 192.0.2.7)"
    csv_out = run("audit", "query", "--format", "csv").stdout.splitlines()
    assert csv_out[0].endswith(",leaf,origin")
    assert csv_out[-1].endswith(',"{""client"":""192.0.2.7"",""host"":""wijkflow.hengelo.example"",'
                                '""method"":""oidc"",""via"":""web""}"')


def test_the_history_table_shows_where_each_change_came_from(app, aanpak, run):
    with provenance.acting_through(WORKSTATION):
        services.complete(app, aanpak, "coalitie", evidence="convenant.pdf", acting=PL)
    table = run("history", aanpak).stdout.splitlines()
    assert table[0].split()[-1] == "Origin"
    assert table[-1].rstrip().endswith("via cli (jan@werkplek-12)")


@pytest.mark.sqlite_only
def test_an_edited_origin_is_named_by_audit_verify(app, aanpak, run, db_path):
    with provenance.acting_through(WEB):
        services.complete(app, aanpak, "coalitie", evidence="convenant.pdf", acting=PL)
    edited = max(stored_origins(app))
    app.close()
    with sqlite3.connect(db_path) as conn:  # as a tamperer who holds the file: the trigger dropped first
        conn.execute("DROP TRIGGER audit_event_append_only_update")
        conn.execute("UPDATE audit_event SET origin = ? WHERE id = ?",
                     (json.dumps({"host": "werkplek-12", "os_user": "fleur", "via": "cli"}, sort_keys=True,
                                 separators=(",", ":")), edited))
    r = run("audit", "verify")
    assert (r.exit_code, r.stderr) == (7, f"Error: The history does not verify: Event #{edited} was edited or "
                                          f"forged: its content does not match its leaf hash ({edited - 1} events "
                                          "before it verify).\n")


@pytest.mark.sqlite_only
def test_an_origin_removed_is_named_too(app, aanpak, run, db_path):
    with sqlite3.connect(db_path) as conn:
        conn.execute("DROP TRIGGER audit_event_append_only_update")
        conn.execute("UPDATE audit_event SET origin = NULL WHERE id = 3")
    r = run("audit", "verify")
    assert r.exit_code == 7 and "Event #3 was edited or forged: its content does not match its leaf hash" in r.stderr


def test_the_database_refuses_a_changed_origin(app, aanpak):
    with pytest.raises(Exception, match="append-only"), app.db.write() as conn:
        conn.execute(sa.text("UPDATE audit_event SET origin = :o WHERE id = 1"), {"o": '{"via":"web"}'})
    with pytest.raises(Exception, match="append-only"), app.db.write() as conn:
        conn.execute(sa.text("UPDATE audit_event SET origin = NULL WHERE id = 1"))


def test_purge_erases_the_origin_with_the_content_and_every_proof_still_verifies(app, aanpak, run, clock, tmp_path):
    kept = tmp_path / "kept.txt"
    kept.write_text(run("audit", "checkpoint").stdout)
    clock.forward(40)
    r = run("audit", "purge", "--before", clock().date().isoformat(), "--reason", "Selectielijst", user=ADMIN)
    assert r.exit_code == 0, r.stderr
    with app.db.read() as conn:
        rows = conn.execute(sa.text("SELECT origin, erased FROM audit_event WHERE erased IS NOT NULL")).all()
    assert rows and all(origin is None and "origin_sha256" in json.loads(erased) for origin, erased in rows)
    r = run("audit", "verify", "--checkpoint", str(kept))
    assert r.exit_code == 0, r.stderr
    r = run("audit", "export", "--bundle", str(tmp_path / "b"))
    assert r.exit_code == 0, r.stderr
    assert verifier(tmp_path / "b").returncode == 0


# --- old events: no origin, unchanged leaves ----------------------------------------------------------------


@pytest.mark.sqlite_only
def test_events_written_before_0008_have_no_origin_and_still_verify_after_the_upgrade(tmp_path, run):
    facts = json.loads((UPGRADE / "manifest.json").read_text())["main-46637c3"]
    db = tmp_path / "main.db"
    shutil.copyfile(UPGRADE / "main-46637c3.db", db)
    env = {"WIJKFLOW_DATABASE_URL": str(db), "WIJKFLOW_NOW": facts["now"]}
    assert run("init", env=env).exit_code == 0
    r = run("complete", "wijkaanpak-zuid", "organisatiestructuur", "--evidence", "organogram.pdf", user=PL, env=env)
    assert r.exit_code == 0, r.stderr
    r = run("audit", "verify", "--expect-head", facts["audit_head"], "--format", "json", env=env)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["checked"] == facts["audit_events"] + 1
    with sqlite3.connect(db) as conn:
        origins = [o for (o,) in conn.execute("SELECT origin FROM audit_event ORDER BY id")]
    assert origins[:-1] == [None] * facts["audit_events"] and json.loads(origins[-1])["via"] == "cli"
    r = run("audit", "export", "--bundle", str(tmp_path / "bundle"), env=env)
    assert r.exit_code == 0, r.stderr
    lines = [json.loads(x) for x in (tmp_path / "bundle" / "events.jsonl").read_text().splitlines()]
    assert "origin_sha256" not in lines[0] and "origin_sha256" in lines[-1] and "origin" in lines[-1]
    assert verifier(tmp_path / "bundle").returncode == 0


# --- the standalone verifier ------------------------------------------------------------------------------


def verifier(bundle: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-I", str(bundle / "verify.py"), str(bundle)], capture_output=True,
                          text=True, timeout=60, cwd=bundle)


@pytest.fixture
def bundle(app, aanpak, run, tmp_path) -> Path:
    with provenance.acting_through(WEB):
        services.complete(app, aanpak, "coalitie", evidence="convenant.pdf", acting=PL)
    with provenance.acting_through(WORKSTATION):
        services.complete(app, aanpak, "analyse_visie", evidence="analyse.pdf", acting=PL)
    out = tmp_path / "bundle"
    r = run("audit", "export", "--bundle", str(out), "--type", "criterion_completed")
    assert r.exit_code == 0, r.stderr
    return out


def rewrite(bundle: Path, change) -> None:
    path = bundle / "events.jsonl"
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    change(lines)
    path.write_text("".join(json.dumps(x, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
                            for x in lines), encoding="utf-8")


def test_the_verifier_accepts_a_bundle_with_origins(bundle):
    lines = [json.loads(x) for x in (bundle / "events.jsonl").read_text().splitlines()]
    assert [json.loads(x["origin"]) for x in lines] == [WEB, WORKSTATION]
    r = verifier(bundle)
    assert r.returncode == 0 and r.stdout.startswith("OK: 2 events of wijkflow/"), r.stdout + r.stderr


@pytest.mark.parametrize(("change", "says"), [
    (lambda ls: ls[0].update(origin=json.dumps({**WEB, "client": "198.51.100.1"}, sort_keys=True,
                                               separators=(",", ":"))),
     "Event #{0} was edited: its origin does not match its digest"),
    (lambda ls: ls[1].update(origin=ls[0]["origin"], origin_sha256=ls[0]["origin_sha256"]),
     "Event #{1} was edited or does not belong to this log: its inclusion proof does not verify"),
    (lambda ls: [ls[0].pop("origin"), ls[0].pop("origin_sha256")],
     "Event #{0} was edited or does not belong to this log: its inclusion proof does not verify"),
])
def test_the_verifier_names_an_event_whose_origin_was_edited(bundle, change, says):
    ids = [json.loads(x)["id"] for x in (bundle / "events.jsonl").read_text().splitlines()]
    rewrite(bundle, change)
    r = verifier(bundle)
    assert r.returncode == 1 and r.stdout.startswith("FAILED: " + says.format(*ids)), r.stdout + r.stderr


# --- identity = "server": no local change in a person's name ------------------------------------------------

SERVER = {"WIJKFLOW_IDENTITY": "server"}


def test_identity_server_refuses_a_claimed_change_and_writes_nothing(app, aanpak, run, db_state):
    before = db_state()
    r = run("--as", PL, "complete", aanpak, "coalitie", "--evidence", "convenant.pdf", env=SERVER)
    assert (r.exit_code, r.stderr) == (5, SENTENCE)
    for args, user in ((("people", "add", "nieuw@hengelo.example", "--name", "Nieuw"), ADMIN),
                       (("advance", aanpak, "--override", "--reason", "Besluit"), ADMIN),
                       (("approve", aanpak, "lokaal_contract_akkoord"), SG1),
                       (("audit", "purge", "--before", "2026-01-01", "--reason", "Selectielijst"), ADMIN),
                       (("people", "add", "nieuw@hengelo.example", "--name", "Nieuw"), None)):
        r = run(*args, user=user, env=SERVER)
        assert (r.exit_code, r.stderr) == (5, SENTENCE), args
    assert db_state() == before


def test_identity_server_still_reads(app, aanpak, run):
    for args in (("show", aanpak), ("history", aanpak), ("list",), ("audit", "query"), ("audit", "verify"),
                 ("people", "list")):
        r = run(*args, user=PL, env=SERVER)
        assert r.exit_code == 0, (args, r.stderr)


def test_identity_server_lets_the_service_run_its_own_jobs(app, aanpak, run):
    """No person is named, so no identity is claimed: the service account sends reminders and signs checkpoints."""
    for args in (("reminders", "send"), ("audit", "checkpoint"), ("scheduler", "run", "--once"), ("init",)):
        r = run(*args, env=SERVER)
        assert r.exit_code == 0, (args, r.stderr)
    r = run("--as", PL, "reminders", "send", env=SERVER)  # naming a person is a claim
    assert (r.exit_code, r.stderr) == (5, SENTENCE)


def test_identity_server_lets_the_first_administrator_be_added_locally(tmp_path, run):
    env = {**SERVER, "WIJKFLOW_DATABASE_URL": str(tmp_path / "nieuw.db")}
    assert run("init", env=env).exit_code == 0
    r = run("people", "add", ADMIN, "--name", "Ada Admin", "--role", "admin", env=env)
    assert r.exit_code == 0, r.stderr  # nobody could sign in to the server otherwise
    r = run("people", "add", PL, "--name", "Fleur", env=env)
    assert (r.exit_code, r.stderr) == (5, SENTENCE)


def test_inside_the_server_a_signed_in_person_may_change_things(db_url, app, aanpak, clock):
    server = App.open(db_url, clock=clock, identity="server")
    try:
        with pytest.raises(NotAllowed, match="identity from its server"):
            services.complete(server, aanpak, "coalitie", evidence="x.pdf", acting=PL)
        with provenance.acting_through(WEB):
            services.complete(server, aanpak, "coalitie", evidence="convenant.pdf", acting=PL)
        with provenance.acting_through(WORKSTATION), pytest.raises(NotAllowed):  # a local origin is no sign-in
            services.complete(server, aanpak, "analyse_visie", evidence="x.pdf", acting=PL)
        # The backstop in the store: a use-case that names a person without actor() is refused all the same.
        with pytest.raises(NotAllowed, match="identity from its server"), server.db.write() as conn:
            store.append_event(conn, at=clock(), type="note", actor_id=1)
    finally:
        server.close()
