"""The CLI against a server (issue 18): `wijkflow --server URL ...` gives what a local run gives.

One real server for the module (uvicorn on 127.0.0.1, in a thread) over its own SQLite file; beside
it a second file, set up the same way, that the same commands run on locally. Every command runs
remotely as a user runs it (the installed `wijkflow`, a subprocess, with that person's token) and
locally as tests/test_cli.py runs it (CliRunner, WIJKFLOW_USER); stdout, stderr and the exit code
must be the same. Both sides
read one fixed clock, so even times and event ids agree.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from conftest import ADMIN, AUDITOR, PL, SG1, SG2, WR, Clock, wijkflow_command
from webkit import TEST_KEY, build, serve_in_thread, session_cookie, stop_served

from wijkflow import services
from wijkflow.app import App
from wijkflow.cli import cli
from wijkflow.cli.remote import FILE_ARGS, LOCAL_ONLY, MAX_UPLOAD
from wijkflow.services import signin
from wijkflow.web.identity import csrf_token, unsign

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Europe/Amsterdam")).astimezone(UTC)
REF = "wijkaanpak-noord"
PEOPLE = [(ADMIN, "Ada Admin", "admin"), (AUDITOR, "Otto Auditor", "auditor"), (PL, "Fleur Mensink", None),
          (WR, "Erna Biezenaar", None), (SG1, "Robert Olde Heuvel", None), (SG2, "Jennifer Havinga", None)]
PORTFOLIO = ("name,wijk,gemeente,workflow,phase,since,leader,indicators\n"
             f"Wijkaanpak Berflo Es,Berflo Es,Hengelo,wijkaanpak,execute,2025-09-01,{PL},actieve_bewoners=12->20\n")


@dataclass
class World:
    url: str
    server_app: App
    local_db: Path
    home: Path  # XDG dirs of the subprocesses
    local_cwd: Path
    remote_cwd: Path
    tokens: dict[str, str]
    clock: Clock  # the server's


def _set_up(app: App) -> dict[str, str]:
    app.db.init()
    services.add_person(app, ADMIN, name="Ada Admin", role="admin")
    for email, name, role in PEOPLE[1:]:
        services.add_person(app, email, name=name, role=role, acting=ADMIN)
    # Tokens in both databases, so that both histories hold the same events (token_created).
    return {email: signin.create_token(app, email, "tests")["token"] for email, _n, _r in PEOPLE}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("remote")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_DATA_HOME", str(root / "xdg-data"))
        # One audit signing key for both (checkpoints and bundles are signed), outside any test's data directory.
        key = str(root / "audit-key.pem")
        local = App.open(str(root / "local.db"), clock=lambda: NOW, outbox_dir=str(root / "outbox-local"),
                         audit_key_file=key)
        _set_up(local)
        local.close()
        clock = Clock(NOW)
        served = App.open(str(root / "server.db"), clock=clock, outbox_dir=str(root / "outbox-server"),
                          audit_key_file=key)
        tokens = _set_up(served)
        served.settings.cookie_secure = False
        url = serve_in_thread(build(served), served)
        w = World(url=str(url), server_app=served, local_db=root / "local.db", home=root,
                  local_cwd=root / "here-local", remote_cwd=root / "here-remote", tokens=tokens, clock=clock)
        for cwd in (w.local_cwd, w.remote_cwd):
            cwd.mkdir()
            (cwd / "portfolio.csv").write_text(PORTFOLIO, encoding="utf-8")
        try:
            yield w
        finally:
            stop_served(url)
            served.close()


def _env(w: World, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIJKFLOW_") and not k.endswith("_PROXY")
           and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env.update({"XDG_DATA_HOME": str(w.home / "xdg-data"), "XDG_CONFIG_HOME": str(w.home / "xdg-config"),
                "COLUMNS": "100", "BROWSER": "true"})
    env.update(extra)
    return env


def local(w: World, *args: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    """The local run, in-process as tests/test_cli.py runs the CLI (the server is idle meanwhile)."""
    env = {"WIJKFLOW_DATABASE_URL": str(w.local_db), "WIJKFLOW_NOW": NOW.isoformat(), "WIJKFLOW_CONFIG": "",
           "WIJKFLOW_OUTBOX_DIR": str(w.home / "outbox-local"), "WIJKFLOW_USER": user or "", "COLUMNS": "100",
           "WIJKFLOW_SERVER": "", "XDG_DATA_HOME": str(w.home / "xdg-data"),
           "WIJKFLOW_AUDIT_KEY_FILE": str(w.home / "audit-key.pem")}
    here = os.getcwd()
    os.chdir(w.local_cwd)
    try:
        r = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False, prog_name="wijkflow")
    finally:
        os.chdir(here)
    return subprocess.CompletedProcess(args, r.exit_code, r.stdout, r.stderr)


def remote(w: World, *args: str, user: str | None = None, env: dict[str, str] | None = None,
           stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    extra = {"WIJKFLOW_SERVER": w.url}
    if user:
        extra["WIJKFLOW_TOKEN"] = w.tokens[user]
    extra.update(env or {})
    return subprocess.run([*wijkflow_command(), *args], env=_env(w, extra), cwd=w.remote_cwd, capture_output=True,
                          text=True, timeout=120, input=stdin)


# The history's last column (table), last field (csv) and `origin` member (json): where each event came from.
ORIGIN_COLUMN = r"(?m) *(via (cli|api) \([^)\n]*\)|Origin|-{6,})$"
ORIGIN_CSV = r"(?m),(origin|\"\{[^\n]*\}\")$"
ORIGIN_JSON = r"\"origin\": \{[^}]*\}"


def same(w: World, *args: str, user: str | None = None, code: int = 0,
         unlike: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run args locally and remotely as `user`: the same exit code (`code`), stdout and stderr (where they
    match the regular expression `unlike`, what differs by nature between two databases, they may differ)."""
    here = local(w, *args, user=user)
    there = remote(w, *args, user=user or PL)

    def seen(r: subprocess.CompletedProcess[str]) -> tuple[int, str, str]:
        if unlike is None:
            return r.returncode, r.stdout, r.stderr
        return r.returncode, re.sub(unlike, "…", r.stdout), re.sub(unlike, "…", r.stderr)

    assert seen(there) == seen(here), args
    assert here.returncode == code, (args, here.stderr)
    return there


def test_the_cli_suites_main_scenario_gives_the_same_output_remotely(world):
    w = world
    same(w, "new", "Wijkaanpak Noord", "--wijk", "Noord", "--gemeente", "Hengelo", "--leader", PL,
         "--coordinator", WR, "--approver", SG1, user=PL)
    same(w, "assign", REF, SG2, "--role", "approver", user=PL)
    same(w, "assign", REF, PL, "--role", "approver", user=PL)
    r = same(w, "advance", REF, user=PL, code=3)
    assert r.stderr.startswith("Error: Wijkaanpak Noord cannot move from initiate to design: 5 criteria are not met.")
    same(w, "advance", REF, "--format", "json", user=PL, code=3)  # the JSON error on stderr
    for key in ("coalitie", "analyse_visie", "lokaal_contract", "instrumenten_financiering"):
        same(w, "complete", REF, key, "--evidence", f"{key}.pdf", user=PL)
    r = same(w, "approve", REF, "lokaal_contract_akkoord", user=PL, code=5)  # four-eyes
    assert "four-eyes" in r.stderr
    same(w, "approve", REF, "lokaal_contract_akkoord", user=WR, code=5)  # not an approver
    same(w, "approve", REF, "lokaal_contract_akkoord", "--comment", "akkoord", user=SG1)  # another person's token
    same(w, "gate", REF)
    same(w, "gate", REF, "--format", "json")
    same(w, "advance", REF, "--dry-run", user=PL)
    r = same(w, "advance", REF, "--format", "json", user=PL)
    assert json.loads(r.stdout)["to"] == "design"
    same(w, "indicator", "add", REF, "bewoners", "--label", "Actieve bewoners", "--baseline", "40", "--target", "60",
         user=WR)
    same(w, "measure", REF, "bewoners", "55", "--date", "2026-03-02", "--source", "telling", user=WR)
    same(w, "measure", REF, "bewoners", "abc", user=WR, code=2)
    same(w, "indicators", REF)
    # History: the same, except where each event came from (BIO 12.4.1): the OS account and host locally,
    # the token and the client's address through the server.
    r = same(w, "history", REF, unlike=ORIGIN_COLUMN)
    assert r.stdout.splitlines()[-1].endswith("via api (token from 127.0.0.1)")
    same(w, "history", REF, "--format", "csv", unlike=ORIGIN_CSV)
    r = same(w, "history", REF, "--format", "json", unlike=ORIGIN_JSON)
    events = json.loads(r.stdout)
    assert events[-1]["type"] == "measurement_recorded"
    assert {k: events[-1]["origin"][k] for k in ("via", "method", "client")} == {
        "via": "api", "method": "token", "client": "127.0.0.1"}
    r = same(w, "show", REF, "--format", "json")
    assert json.loads(r.stdout)["phase"] == "design"
    same(w, "show", REF)
    same(w, "list")
    same(w, "show", "bestaat-niet", code=4)
    same(w, "show", "bestaat-niet", "--format", "json", code=4)
    same(w, "people", "list", "--format", "json")
    same(w, "show", code=2)  # click's own usage error, from the same command tree
    # Help too, laid out for the client's terminal: compared with the installed command (CliRunner fixes 80
    # columns), for a command and for a group without its command.
    for args, code in ((("show", "--help"), 0), (("audit",), 2)):
        here = subprocess.run([*wijkflow_command(), *args], env=_env(w, {}), capture_output=True, text=True)
        there = remote(w, *args, user=PL)
        assert (there.returncode, there.stdout, there.stderr) == (here.returncode, here.stdout, here.stderr)
        assert here.returncode == code and "Usage: wijkflow " in here.stdout + here.stderr
    assert remote(w, "--", "people", "list", user=PL).stdout == remote(w, "people", "list", user=PL).stdout
    same(w, "nocommand", code=2)


def test_an_uploaded_file_imports_as_the_local_file_does(world):
    w = world
    same(w, "import", "portfolio.csv", "--dry-run", user=PL)
    r = same(w, "import", "portfolio.csv", user=PL)
    assert "Berflo Es" in r.stdout
    same(w, "import", "missing.csv", user=PL, code=local(w, "import", "missing.csv", user=PL).returncode)
    (w.local_cwd / "bad.yaml").write_text("name: x\nphases: [\n", encoding="utf-8")
    (w.remote_cwd / "bad.yaml").write_text("name: x\nphases: [\n", encoding="utf-8")
    r = same(w, "workflows", "validate", "bad.yaml", code=2)
    assert "bad.yaml" in r.stderr and "wf-cli-" not in r.stderr  # the path as typed, not the server's
    shipped = Path(__file__).resolve().parents[1].joinpath("workflows", "wijkaanpak.yaml").read_text(encoding="utf-8")
    for cwd in (w.local_cwd, w.remote_cwd):
        (cwd / "mijn.yaml").write_text(shipped.replace("label: Wijkaanpak", "label: Mijn aanpak", 1), encoding="utf-8")
    same(w, "workflows", "validate", "mijn.yaml")
    r = same(w, "workflows", "show", "mijn.yaml", "--format", "json")
    assert "wf-cli-" not in r.stdout


def test_a_report_and_an_export_are_written_where_the_command_line_says(world):
    w = world
    same(w, "new", "Wijkaanpak Zuid", "--wijk", "Zuid", "--leader", PL, user=PL)
    same(w, "report", "wijkaanpak-zuid", "--html", "rapport.html")
    assert (w.remote_cwd / "rapport.html").read_bytes() == (w.local_cwd / "rapport.html").read_bytes()
    same(w, "report", "wijkaanpak-zuid", "--html", "rapport.html")  # its own earlier report: replaced
    with (w.remote_cwd / "rapport.html").open("ab") as f:  # an earlier report past the upload limit:
        f.truncate(MAX_UPLOAD + 1)  # only its start is sent, to tell that it is one
    assert remote(w, "report", "wijkaanpak-zuid", "--html", "rapport.html", user=PL).returncode == 0
    assert (w.remote_cwd / "rapport.html").read_bytes() == (w.local_cwd / "rapport.html").read_bytes()
    for cwd in (w.local_cwd, w.remote_cwd):
        (cwd / "notes.html").write_text("mine", encoding="utf-8")
    r = same(w, "report", "wijkaanpak-zuid", "--html", "notes.html", code=2)  # someone else's file: refused
    assert "notes.html already exists and is not a wijkflow report" in r.stderr
    assert (w.remote_cwd / "notes.html").read_text(encoding="utf-8") == "mine"
    for cwd in (w.local_cwd, w.remote_cwd):
        os.mkfifo(cwd / "pijp.html")
    r = same(w, "report", "wijkaanpak-zuid", "--html", "pijp.html", code=2)  # a pipe: refused alike, nothing blocks
    assert "pijp.html is not a regular file" in r.stderr
    same(w, "report", "wijkaanpak-zuid", "--html", "geen-map/rapport.html",
         code=local(w, "report", "wijkaanpak-zuid", "--html", "geen-map/rapport.html").returncode)
    same(w, "export", "wijkaanpak-zuid", "--zgw-zaak", "zaak", "--rsin", "002220647")
    files = sorted(p.relative_to(w.local_cwd / "zaak").as_posix() for p in (w.local_cwd / "zaak").rglob("*")
                   if p.is_file())
    assert files and files == sorted(p.relative_to(w.remote_cwd / "zaak").as_posix()
                                     for p in (w.remote_cwd / "zaak").rglob("*") if p.is_file())
    for name in files:
        assert (w.remote_cwd / "zaak" / name).read_bytes() == (w.local_cwd / "zaak" / name).read_bytes()
    same(w, "export", "wijkaanpak-zuid", "--zgw-zaak", "zaak", "--rsin", "002220647",
         code=local(w, "export", "wijkaanpak-zuid", "--zgw-zaak", "zaak", "--rsin", "002220647").returncode)
    # A bundle names the key by the installation's origin, which each database has its own of.
    origin = r"wijkflow/[0-9a-f]{16}(\+[0-9a-f]{8})?"
    same(w, "audit", "export", "--bundle", "bundel", "--aanpak", "wijkaanpak-zuid", unlike=origin)
    bundle = sorted(p.relative_to(w.local_cwd / "bundel").as_posix() for p in (w.local_cwd / "bundel").rglob("*")
                    if p.is_file())
    assert bundle == sorted(p.relative_to(w.remote_cwd / "bundel").as_posix()
                            for p in (w.remote_cwd / "bundel").rglob("*") if p.is_file())
    same(w, "audit", "export", "--bundle", "bundel", unlike=origin)  # its own earlier bundle: replaced alike


def test_as_db_and_config_are_refused_with_a_server(world):
    r = remote(world, "--as", SG1, "approve", REF, "lokaal_contract_akkoord", user=PL)
    assert r.returncode == 5
    assert r.stderr == ("Error: --as is refused with --server: the server acts as the person the token belongs to "
                        "(sign in as someone else with `wijkflow login`).\n")
    r = remote(world, "--db", "x.db", "list", user=PL)
    assert (r.returncode, r.stderr) == (2, "Error: --db is refused with --server: the server uses its own database.\n")
    r = remote(world, "--config", "w.toml", "list", user=PL)
    assert r.returncode == 2 and r.stderr.startswith("Error: --config is refused with --server")


@pytest.mark.parametrize(("name", "args"), [("init", ()), ("db current", ()), ("db backup", ("x.db",)), ("demo", ()),
                                          ("config", ()), ("scheduler run", ("--once",))])
def test_commands_on_the_database_itself_are_refused_remotely(world, name, args):
    r = remote(world, *name.split(), *args, user=ADMIN)
    assert r.returncode == 2
    assert r.stderr == (f"Error: `wijkflow {name}` {LOCAL_ONLY[name.split()[0]]}, so it runs only where the database "
                        "is, not through --server.\n")
    assert r.stdout == ""


def test_the_server_refuses_them_too_and_never_reads_its_own_files_by_a_clients_path(world, tmp_path):
    headers = {"Authorization": f"Bearer {world.tokens[ADMIN]}"}
    r = httpx.post(world.url + "/api/cli", json={"argv": ["db", "current"]}, headers=headers)
    assert r.status_code == 400 and r.json()["exit_code"] == 2
    r = httpx.post(world.url + "/api/cli", json={"argv": ["--as", PL, "list"]}, headers=headers)
    assert r.status_code == 400
    secret = tmp_path / "server-only.yaml"
    secret.write_text(Path(__file__).resolve().parents[1].joinpath("workflows", "wijkaanpak.yaml")
                      .read_text(encoding="utf-8"), encoding="utf-8")
    for argv in (["workflows", "validate", str(secret)], ["workflows", "show", str(secret)],
                 ["new", "X", "--wijk", "X", "--leader", PL, f"--workflow={secret}"],
                 ["workflows", "export", str(secret), "--zgw-zaaktype", str(tmp_path / "out")]):
        answer = httpx.post(world.url + "/api/cli", json={"argv": argv}, headers=headers).json()
        assert answer["exit_code"] != 0 and str(secret) in answer["stderr"], argv  # not found: it was not sent
    assert not (tmp_path / "out").exists()
    r = httpx.post(world.url + "/api/cli", headers=headers, json={
        "argv": ["import", "x.csv"], "files": {"1": {"kind": "file", "name": "x.csv", "content": "not base64!"}}})
    assert r.status_code == 400 and r.json()["error"].startswith("What was sent for x.csv cannot be used")


def test_without_a_token_one_sentence_and_exit_5(world):
    r = remote(world, "list")
    assert r.returncode == 5
    assert r.stderr == (f"Error: You are not signed in to {world.url}: run `wijkflow login {world.url}` "
                        "(or set WIJKFLOW_TOKEN).\n")
    r = remote(world, "list", "--format", "json")
    assert r.returncode == 5 and json.loads(r.stderr)["type"] == "NotAllowed"


def _both(w: World, change: Callable[[App], Any]) -> Any:
    """Make the same change in the local database too, so both histories stay alike."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_DATA_HOME", str(w.home / "xdg-data"))
        other = App.open(str(w.local_db), clock=lambda: NOW)
        try:
            change(other)
        finally:
            other.close()
    return change(w.server_app)


def test_a_revoked_or_expired_token_is_refused(world):
    w = world
    made = _both(w, lambda a: signin.create_token(a, SG2, "weg"))
    env = {"WIJKFLOW_TOKEN": made["token"]}
    assert remote(w, "list", env=env).returncode == 0
    _both(w, lambda a: signin.revoke_token(a, SG2, made["id"]))
    r = remote(w, "list", env=env)
    assert r.returncode == 5
    assert r.stderr == (f"Error: The server at {w.url} did not accept your token (expired, revoked or unknown); "
                        f"sign in again with `wijkflow login {w.url}`.\n")
    later = _both(w, lambda a: signin.create_token(a, SG2, "verloopt", days=1))
    assert remote(w, "list", env={"WIJKFLOW_TOKEN": later["token"]}).returncode == 0
    with w.server_app.db.write() as conn:
        conn.execute(sa.text("UPDATE api_token SET expires_at = :t WHERE id = :i"),
                     {"t": datetime(2026, 3, 1, tzinfo=UTC).isoformat(), "i": later["id"]})
    r = remote(w, "list", env={"WIJKFLOW_TOKEN": later["token"]})
    assert r.returncode == 5 and "did not accept your token" in r.stderr


def test_an_unreachable_server_is_one_sentence_and_exit_1(world):
    r = remote(world, "list", user=PL, env={"WIJKFLOW_SERVER": "http://127.0.0.1:9"})
    assert r.returncode == 1
    assert r.stderr.startswith("Error: Cannot reach the wijkflow server at http://127.0.0.1:9 (")
    assert len(r.stderr.splitlines()) == 1
    r = remote(world, "list", user=PL, env={"WIJKFLOW_SERVER": world.url + "/elders"})  # not wijkflow's address
    assert (r.returncode, r.stderr) == (1, f"Error: {world.url}/elders does not answer as a wijkflow server "
                                           "(HTTP 404); check the address (the one people open in the browser).\n")


def _credentials(w: World) -> Path:
    return w.home / "xdg-config" / "wijkflow" / "credentials.json"


def test_login_with_a_token_keeps_it_mode_0600_and_commands_use_it(world):
    w = world
    r = remote(w, "login", w.url, "--token", "-", stdin=w.tokens[SG1] + "\n", env={"WIJKFLOW_SERVER": ""})
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"Signed in to {w.url} as Robert Olde Heuvel <{SG1}>; the token is kept in ")
    path = _credentials(w)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["servers"][w.url]["email"] == SG1
    assert w.tokens[SG1] not in r.stdout + r.stderr
    r = remote(w, "--server", w.url, "people", "list", env={"WIJKFLOW_SERVER": ""})
    assert r.returncode == 0, r.stderr
    path.chmod(0o644)
    try:
        r = remote(w, "list")
        assert r.returncode == 5
        assert r.stderr == (f"Error: {path} can be read by others (mode 644): wijkflow does not use a token others "
                            f"could copy; run `chmod 600 {path}` or sign in again.\n")
        r = remote(w, "login", w.url, "--token", "-", stdin=w.tokens[SG1] + "\n")  # signing in again mends it
        assert r.returncode == 0, r.stderr
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        path.chmod(0o600)
    r = remote(w, "login", w.url, "--token", "wf_not-a-real-token")
    assert r.returncode == 5 and "did not accept this token" in r.stderr


def test_login_in_the_browser_then_logout_revokes_the_token(world):
    w = world
    env = _env(w, {"WIJKFLOW_SERVER": w.url})
    proc = subprocess.Popen([*wijkflow_command(), "login", w.url, "--no-browser"], env=env, cwd=w.remote_cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith(f"Open {w.url}/cli/koppelen in your browser, sign in, and enter the code ")
        code = line.rstrip().rstrip(".").rsplit(" ", 1)[1]
        # The person, signed in in the browser, confirms the code on the page (web/auth.py).
        cookie, value = session_cookie(w.server_app, WR)
        secret = unsign(TEST_KEY, value, "session")
        assert secret is not None
        page = httpx.post(w.url + "/cli/koppelen", cookies={cookie: value},
                          data={"code": code.lower(), "csrf": csrf_token(TEST_KEY, "session|" + secret)})
        assert page.status_code == 200, page.text
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert f"as Erna Biezenaar <{WR}>" in out
    token = json.loads(_credentials(w).read_text())["servers"][w.url]["token"]
    assert token not in out + err + line
    r = remote(w, "people", "list", "--format", "json")
    assert r.returncode == 0, r.stderr
    r = remote(w, "logout")
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith("and revoked on the server.\n")
    assert w.url not in json.loads(_credentials(w).read_text())["servers"]
    assert remote(w, "list", env={"WIJKFLOW_TOKEN": token}).returncode == 5
    r = remote(w, "logout", w.url)
    assert (r.returncode, r.stdout) == (0, f"Not signed in to {w.url}; nothing changed.\n")


def test_a_browser_login_nobody_confirms_expires_in_one_sentence(world):
    w = world
    proc = subprocess.Popen([*wijkflow_command(), "login", w.url, "--no-browser"], env=_env(w, {}), cwd=w.remote_cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        code = proc.stdout.readline().rstrip().rstrip(".").rsplit(" ", 1)[1]
        w.clock.forward(minutes=11)  # past signin.CLI_LOGIN_MINUTES
        out, err = proc.communicate(timeout=30)
    finally:
        w.clock.now = NOW
        proc.kill()
    assert proc.returncode == 5
    assert err.endswith(f"Error: The code {code} expired before it was confirmed; run `wijkflow login {w.url}` "
                        "again.\n")


def test_a_file_over_the_upload_limit_is_refused_in_one_sentence(world):
    big = world.remote_cwd / "groot.csv"
    with big.open("wb") as f:
        f.truncate(MAX_UPLOAD + 1)
    try:
        r = remote(world, "import", "groot.csv", user=PL)
    finally:
        big.unlink()
    assert r.returncode == 2
    assert r.stderr == ("Error: groot.csv is 21.0 MB; the server takes files up to 20 MB (run the command where "
                        "the database is).\n")


def test_concurrent_commands_each_get_their_own_output(world):
    procs = [subprocess.Popen([*wijkflow_command(), *args], env=_env(world, {"WIJKFLOW_SERVER": world.url,
                                                                          "WIJKFLOW_TOKEN": world.tokens[PL]}),
                              cwd=world.remote_cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for args in [("workflows", "list", "--format", "json"), ("people", "list", "--format", "json")] * 3]
    outs = [p.communicate(timeout=60) for p in procs]
    for i, (out, err) in enumerate(outs):
        assert procs[i].returncode == 0 and err == ""
        data = json.loads(out)  # one whole JSON document each: no output of another request mixed in
        assert {"name"} <= set(data[0]) if i % 2 == 0 else {"email"} <= set(data[0])


def test_remote_show_loads_neither_sqlalchemy_nor_pydantic(world):
    r = remote(world, "show", "1", user=PL, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert r.returncode in (0, 4)  # 4 when this test runs alone, before any aanpak exists: the server answered
    imported = {line.split("|")[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}
    assert imported, "no import timing: -X importtime did not run"
    assert not {m for m in imported if m.split(".")[0] in ("sqlalchemy", "pydantic", "sqlmodel", "alembic", "starlette",
                                                           "uvicorn", "jinja2", "httpx", "yaml")}
    assert not {m for m in imported if m in ("wijkflow.app", "wijkflow.config", "http.client")}


def test_every_file_parameter_is_known_to_the_bridge():
    """A new command taking a path must say whether it is read or written, or the server would open its own file."""
    import click

    from wijkflow.cli import cli

    def walk(cmd: click.Command, words: tuple[str, ...]) -> Iterator[tuple[str, click.Parameter]]:
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                yield from walk(sub, (*words, name))
        else:
            for p in cmd.params:
                yield " ".join(words), p

    pathlike = {"FILE", "DIR", "PATH", "NAME|PATH", "OLD-CHECKPOINT"}
    for name, param in walk(cli, ()):
        if name.split(" ")[0] in LOCAL_ONLY or name in LOCAL_ONLY:
            continue
        if isinstance(param.type, click.Path | click.File) or (param.metavar or "") in pathlike:
            assert param.name in FILE_ARGS.get(name, {}), f"{name} {param.name}: add it to remote.FILE_ARGS"


def test_the_client_starts_fast_enough_to_matter():
    """Not timed (the benchmark is): the path to the client imports nothing the server needs."""
    code = ("import sys, wijkflow.cli.remote as r; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy','pydantic','starlette')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr
    # ... and a local command never loads the client.
    code = "import sys, wijkflow.cli; print('wijkflow.cli.remote' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_a_server_that_redirects_names_the_address_to_use(world):
    """http:// behind a proxy that sends everything to https://: one sentence with the address, not 'HTTP 301'."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Moved(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(308)
            self.send_header("Location", "https://wijkflow.example" + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Moved)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        address = f"http://127.0.0.1:{httpd.server_address[1]}"
        r = remote(world, "list", user=PL, env={"WIJKFLOW_SERVER": address})
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert r.returncode == 2
    assert r.stderr == (f"Error: The server at {address} sends requests on to https://wijkflow.example; use that "
                        "address (`wijkflow login https://wijkflow.example`).\n")


def test_the_server_refuses_a_body_over_the_limit_before_reading_it(world):
    from wijkflow.web.cli_bridge import MAX_BODY

    def body() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(MAX_BODY // (1 << 20) + 2):
            yield b" " * (1 << 20)

    headers = {"Authorization": f"Bearer {world.tokens[PL]}", "Content-Type": "application/json"}
    try:
        r = httpx.post(world.url + "/api/cli", content=body(), headers=headers, timeout=60)
    except httpx.TransportError:
        return  # the server answered and closed while the rest was still being sent: refused all the same
    assert r.status_code == 413
    assert r.json()["error"].startswith("The files sent exceed 20 MB")


@pytest.mark.parametrize("argv", [
    ["import", "data.csv", "--dry-run"], ["import", "--dry-run", "data.csv"], ["import", "--", "data.csv"],
    ["measure", "import", "f.csv", "--source", "csv"],
    ["measure", "import", "--source", "csv", "--year", "2026", "f.csv"],
    ["report", "REF", "--html", "out.html"], ["report", "--html=out.html", "REF", "--force"],
    ["new", "N", "--wijk", "W", "--leader", "x", "--workflow", "w.yaml"],
    ["new", "N", "--workflow=dir/w", "--wijk", "W", "--leader", "x"], ["new", "N", "--wijk", "W", "--leader", "x"],
    ["workflows", "show", "wijkaanpak"],
    ["migrate", "REF", "--to-version", "3", "--workflow", "w.yaml", "--map", "a=b"],
    ["audit", "export", "--aanpak", "REF", "--bundle", "b"], ["audit", "verify", "--checkpoint", "c.json"],
    ["audit", "prove", "3", "--from", "c.json"], ["export", "REF", "--zgw-zaak", "d", "--rsin", "1"],
    ["workflows", "export", "w.yaml", "--zgw-zaaktype", "d"], ["workflows", "show", "--format", "json", "a/w"],
    ["workflows", "validate", "w.yaml"],
], ids=" ".join)
def test_the_file_scanner_finds_exactly_what_click_parses(argv):
    """Client and server find file arguments by scanning argv; click must read the very tokens they replace."""
    import click

    from wijkflow.cli.remote import file_args, resolve

    words, cmd, start = resolve(argv)
    found = file_args(cmd, words, argv, start)
    marked = list(argv)
    for arg in found:
        marked[arg.index] = f"{arg.prefix}@{arg.index}@"
    as_given = cmd.make_context(" ".join(words), argv[start:], resilient_parsing=True).params
    as_sent = cmd.make_context(" ".join(words), marked[start:], resilient_parsing=True).params
    kinds = FILE_ARGS[" ".join(words)]
    files = {name for name, kind in kinds.items() if as_given.get(name) is not None
             and (kind != "in-if-path" or str(as_given[name]).endswith(".yaml") or "/" in str(as_given[name]))}
    assert {a.param: f"@{a.index}@" for a in found} == {name: as_sent[name] for name in files}
    assert isinstance(cmd, click.Command)


def test_output_past_the_servers_limit_is_refused_whole_not_cut(world, monkeypatch):
    from wijkflow.web import cli_bridge

    monkeypatch.setattr(cli_bridge, "MAX_OUTPUT", 300)  # the server runs in this process
    r = remote(world, "people", "list", "--format", "json", user=PL)
    assert (r.returncode, r.stdout) == (2, "")
    assert json.loads(r.stderr)["error"] == ("The output is larger than the server sends (0 MB); narrow it (--aanpak, "
                                             "--since, ...) or run the command where the database is.")
    assert remote(world, "show", "bestaat-niet", user=PL).returncode == 4  # small enough: its own answer
    monkeypatch.setattr(cli_bridge, "MAX_FILES", 300)
    r = remote(world, "workflows", "export", "wijkaanpak", "--zgw-zaaktype", "te-groot",
               "--selectielijstklasse", "https://selectielijst.example/api/v1/resultaten/1",
               "--resultaattypeomschrijving", "https://selectielijst.example/api/v1/omschrijvingen/1", user=PL)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == ("Error: The files written are larger than the server sends (0 MB); narrow it (--aanpak, "
                        "--since, ...) or run the command where the database is.\n")
    assert not (world.remote_cwd / "te-groot").exists()


def test_a_command_line_the_client_would_not_send_never_runs_here(monkeypatch, tmp_path):
    """The group's safety net: with a server named, a command that reached it would use this computer's database."""
    from wijkflow.cli import remote as client

    monkeypatch.setattr(client, "parse", lambda argv, env=None: None)  # as if the client had missed it
    r = CliRunner().invoke(cli, ["list"], env={"WIJKFLOW_SERVER": "http://127.0.0.1:9",
                                               "WIJKFLOW_DATABASE_URL": str(tmp_path / "hier.db")})
    assert r.exit_code == 2
    assert r.stderr.endswith("Error: This command line cannot be sent to the server; check its options.\n")
    assert not (tmp_path / "hier.db").exists()


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (and its key), as a municipality's own CA would issue one."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wijkflow test")])
    now = dt.datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def test_over_https_the_certificate_is_checked(world, tmp_path):
    import threading

    import uvicorn
    from webkit import free_port

    cert, key = _self_signed(tmp_path)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(build(world.server_app), host="127.0.0.1", port=port, log_level="warning",
                                          access_log=False, log_config=None, lifespan="off",
                                          ssl_certfile=str(cert), ssl_keyfile=str(key)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        url = f"https://127.0.0.1:{port}"
        r = remote(world, "people", "list", "--format", "json", user=PL,
                   env={"WIJKFLOW_SERVER": url, "SSL_CERT_FILE": str(cert)})
        assert r.returncode == 0, r.stderr
        assert PL in {p["email"] for p in json.loads(r.stdout)}
        r = remote(world, "people", "list", user=PL, env={"WIJKFLOW_SERVER": url})  # not a CA this computer trusts
        assert r.returncode == 1
        assert r.stderr.startswith(f"Error: Cannot reach the wijkflow server at {url} (")
        assert "CERTIFICATE_VERIFY_FAILED" in r.stderr and len(r.stderr.splitlines()) == 1
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_behind_a_proxy_the_client_goes_through_it(world):
    """HTTP_PROXY set: the client sends its requests through the proxy (urllib.request, which knows proxies)."""
    import http.client
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from urllib.parse import urlsplit

    seen: list[str] = []

    class Proxy(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            seen.append(self.path)  # a proxy gets the absolute URL
            target = urlsplit(self.path)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            upstream = http.client.HTTPConnection(target.hostname or "", target.port)
            upstream.request("POST", target.path, body=body,
                             headers={k: v for k, v in self.headers.items() if k.lower() != "proxy-connection"})
            answer = upstream.getresponse()
            data = answer.read()
            upstream.close()
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.getheader("Content-Type") or "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    proxy = HTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        r = remote(world, "people", "list", "--format", "json", user=PL,
                   env={"HTTP_PROXY": f"http://127.0.0.1:{proxy.server_address[1]}", "NO_PROXY": "", "no_proxy": ""})
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert r.returncode == 0, r.stderr
    assert PL in {p["email"] for p in json.loads(r.stdout)}
    assert seen == [world.url + "/api/cli"]


def test_the_start_up_benchmark_runs_and_finds_no_heavy_import(tmp_path):
    """benchmarks/remote_startup.py as a smoke test (one run each; the numbers mean little here)."""
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "remote_startup.py"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIJKFLOW_")}
    env["XDG_DATA_HOME"] = str(tmp_path)
    r = subprocess.run([sys.executable, str(script), "--runs", "1"], capture_output=True, text=True, timeout=120,
                       env=env)
    assert r.returncode == 0, r.stderr
    assert "wijkflow show REF (remote)" in r.stdout and "ratio " in r.stdout
    assert "of the heavy ones: none" in r.stdout
