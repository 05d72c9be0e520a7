"""`wijkflow login SERVER` and `wijkflow logout [SERVER]`: this computer's sign-in to a wijkflow server.

They run here even in remote mode (they are what remote mode needs) and touch no database: the
token goes into credentials.json in the user config directory (mode 0600, keyed by the server's
address), which `wijkflow --server SERVER ...` reads (cli/remote.py).
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import Any

import click

from ..errors import InvalidInput, NotAllowed
from . import cli

# cli/remote.py is imported in the command bodies: `wijkflow --help` and local commands never load it.


def _check(server: str, token: str) -> dict[str, Any]:
    """Who the server says the token belongs to; NotAllowed when it does not accept it."""
    from .remote import answer_error, call

    status, answer = call(server, "GET", "/api/ik", token=token)
    if status == 401:
        raise NotAllowed(f"The server at {server} did not accept this token (expired, revoked or unknown); "
                         f"make a new one at {server}/tokens or sign in with `wijkflow login {server}`.")
    if status != 200 or not isinstance(answer, dict) or "email" not in answer:
        raise answer_error(server, status, answer)
    return answer


def _graphical() -> bool:
    """Whether a browser can open beside this terminal. Without a display (an ssh session) webbrowser would
    start a text browser (lynx, w3m) in the terminal itself, over the code the person must read."""
    import os

    if sys.platform.startswith("linux") or "bsd" in sys.platform:
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def _device_flow(server: str, browser: bool) -> str:
    """The token of a login the person confirms in the browser (the token never appears in a URL)."""
    import socket

    from .remote import answer_error, call

    status, started = call(server, "POST", "/api/cli-login", {"host": socket.gethostname()})
    if status != 200 or not isinstance(started, dict) or "device_code" not in started:
        raise answer_error(server, status, started)
    page = server + str(started.get("verify_path") or "/cli/koppelen")
    click.echo(f"Open {page} in your browser, sign in, and enter the code {started['user_code']}.")
    if browser and _graphical():
        try:
            import webbrowser

            webbrowser.open(page)
        except Exception:  # noqa: BLE001 - no browser here: the address above is enough
            pass
    click.echo("Waiting for the confirmation (Ctrl-C stops) ...", err=True)
    interval = max(1.0, float(started.get("interval") or 2))
    while True:
        time.sleep(interval)
        status, answer = call(server, "POST", "/api/cli-login/poll", {"device_code": started["device_code"]})
        if status != 200 or not isinstance(answer, dict):
            raise answer_error(server, status, answer)
        if answer.get("status") == "approved" and answer.get("token"):
            return str(answer["token"])
        if answer.get("status") != "pending":
            raise NotAllowed(f"The code {started['user_code']} expired before it was confirmed; run "
                             f"`wijkflow login {server}` again.")


@cli.command("login")
@click.argument("server", metavar="SERVER")
@click.option("--token", metavar="TOKEN",
              help="A personal access token (made on SERVER/tokens) instead of confirming in the browser; "
                   "`-` reads it from stdin, which keeps it out of the shell history.")
@click.option("--no-browser", is_flag=True, help="Only show the address and the code; do not open a browser.")
def login(server: str, token: str | None, no_browser: bool) -> None:
    """Sign in to a wijkflow server; then `wijkflow --server SERVER ...` (or WIJKFLOW_SERVER) acts as you.

    Without --token it shows a code to confirm at SERVER/cli/koppelen, where you sign in as usual,
    and waits until you have. The token is kept in credentials.json in your user config directory,
    readable by you only (mode 0600).

    \b
      wijkflow login https://wijkflow.hengelo.nl
      wijkflow login https://wijkflow.hengelo.nl --token - < token.txt
    """
    from .remote import read_credentials, server_url, write_credentials

    url = server_url(server)
    if token == "-":
        token = sys.stdin.readline().strip()
    if token is not None and not token.strip():
        raise InvalidInput("--token is empty; give the token, or `-` to read it from stdin.")
    token = token.strip() if token else _device_flow(url, browser=not no_browser)
    who = _check(url, token)
    data = read_credentials(strict=False)  # written back with mode 0600
    data["servers"][url] = {"token": token, "email": who["email"], "name": who.get("name"),
                            "token_id": who.get("token_id"),
                            "saved": datetime.now(UTC).isoformat(timespec="seconds")}
    path = write_credentials(data)
    click.echo(f"Signed in to {url} as {who.get('name') or who['email']} <{who['email']}>; the token is kept "
               f"in {path}.")
    click.echo(f"Run commands there with `wijkflow --server {url} ...` or set WIJKFLOW_SERVER={url}.")


@cli.command("logout")
@click.argument("server", metavar="[SERVER]", required=False)
@click.pass_context
def logout(ctx: click.Context, server: str | None) -> None:
    """Sign out of a server: revoke this computer's token there and forget it here.

    SERVER defaults to --server / WIJKFLOW_SERVER, or the one server you are signed in to.
    """
    import os

    from .remote import call, credentials_path, read_credentials, server_url, write_credentials

    data = read_credentials(strict=False)  # written back with mode 0600
    known = data["servers"]
    chosen = server or ctx.find_root().params.get("server") or os.environ.get("WIJKFLOW_SERVER")
    if not chosen:
        if len(known) != 1:
            listed = ", ".join(sorted(known)) or "none"
            raise InvalidInput(f"Name the server to sign out of: `wijkflow logout SERVER` (signed in to: {listed}).")
        chosen = next(iter(known))
    url = server_url(chosen)
    entry = known.get(url)
    if entry is None:
        click.echo(f"Not signed in to {url}; nothing changed.")
        return
    try:
        status, _answer = call(url, "POST", "/api/cli-logout", {}, token=str(entry.get("token") or ""))
        revoked = status in (200, 401)  # 401: the server refuses it already (expired or revoked)
    except Exception:  # noqa: BLE001 - signing out here must work without the server
        revoked = False
    del known[url]
    write_credentials(data)
    click.echo(f"Signed out of {url}; the token is gone from {credentials_path()}"
               + (" and revoked on the server." if revoked else
                  f"; the server could not be reached, so revoke it at {url}/tokens."))
