"""An installation with identity = "server" (issue 18): local writes are refused, the server's are not.

The way a municipality sets it up: the first administrator is added on the server's machine (the one
local write allowed, or nobody could ever sign in); everything after that goes through `wijkflow
serve`. The administrator signs in in the browser, links the CLI with `wijkflow login` (device flow),
and adds people with `wijkflow --server URL people add`. Every change the server makes records where
it came from (via api, token, the client's address); a `--as` on the server's machine is refused and
writes nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest
from conftest import ADMIN, PL, wijkflow_command
from webkit import TEST_KEY, build, serve_in_thread, session_cookie, stop_served

from wijkflow import provenance, services
from wijkflow.app import App
from wijkflow.errors import NotAllowed
from wijkflow.web.identity import csrf_token, unsign


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIJKFLOW_") and not k.endswith("_PROXY")
           and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env.update({"XDG_DATA_HOME": str(home / "xdg-data"), "XDG_CONFIG_HOME": str(home / "xdg-config"),
                "BROWSER": "true"})
    env.update(extra)
    return env


@pytest.mark.sqlite_only  # the server's database is its own SQLite file; the point is the identity rule
def test_a_server_installation_takes_changes_only_through_the_server(tmp_path, db_url, db_state):
    db = Path(db_url)
    app = App.open(str(db), identity="server", outbox_dir=str(tmp_path / "outbox"))
    app.db.init()
    services.add_person(app, ADMIN, name="Ada Admin", role="admin")  # the first administrator: allowed locally
    with pytest.raises(NotAllowed) as refused:
        services.add_person(app, PL, name="Fleur Mensink", acting=ADMIN)
    assert str(refused.value) == provenance.SERVER_IDENTITY

    app.settings.cookie_secure = False
    served = serve_in_thread(build(app), app)
    url = str(served)
    home = tmp_path / "home"
    try:
        # `wijkflow login`: the CLI shows a code, the administrator confirms it on the page, signed in.
        proc = subprocess.Popen([*wijkflow_command(), "login", url, "--no-browser"], env=_env(home),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            code = proc.stdout.readline().rstrip().rstrip(".").rsplit(" ", 1)[1]
            cookie, value = session_cookie(app, ADMIN)
            secret = unsign(TEST_KEY, value, "session")
            assert secret is not None
            page = httpx.post(url + "/cli/koppelen", cookies={cookie: value},
                              data={"code": code, "csrf": csrf_token(TEST_KEY, "session|" + secret)})
            assert page.status_code == 200, page.text
            out, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
        assert proc.returncode == 0, err
        assert "Ada Admin" in out

        # Through the server the administrator adds a person; the event says it came through the API.
        r = subprocess.run([*wijkflow_command(), "--server", url, "people", "add", PL, "--name", "Fleur Mensink"],
                           env=_env(home), capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        r = subprocess.run([*wijkflow_command(), "--server", url, "audit", "query", "--format", "json"],
                           env=_env(home), capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        events = {e["type"]: e for e in json.loads(r.stdout)}
        assert {k: events["person_added"]["origin"].get(k) for k in ("via", "method", "client")} == {
            "via": "api", "method": "token", "client": "127.0.0.1"}
        assert events["token_created"]["origin"]["method"] == "device"

        # On the server's own machine, claiming to be the administrator changes nothing.
        before = db_state()
        r = subprocess.run([*wijkflow_command(), "--as", ADMIN, "people", "add", "x@hengelo.example", "--name", "X"],
                           env=_env(home, WIJKFLOW_DATABASE_URL=str(db), WIJKFLOW_IDENTITY="server"),
                           capture_output=True, text=True, timeout=60)
        assert (r.returncode, r.stderr) == (5, f"Error: {provenance.SERVER_IDENTITY}\n")
        assert db_state() == before
        # Reading needs no server.
        r = subprocess.run([*wijkflow_command(), "people", "list"],
                           env=_env(home, WIJKFLOW_DATABASE_URL=str(db), WIJKFLOW_IDENTITY="server"),
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and "Fleur Mensink" in r.stdout
    finally:
        stop_served(served)
        app.close()
