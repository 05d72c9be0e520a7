"""`wijkflow serve` (the web server) and `wijkflow token` (personal access tokens for the CLI and scripts)."""

from __future__ import annotations

import click

from . import Flags, cli, open_app, pass_flags
from .render import as_table, emit


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="The port.")
@click.option("--insecure-cookies", is_flag=True,
              help="Cookies without the Secure flag, for plain http on a trusted network (on 127.0.0.1 this is "
                   "the default unless server_url is https) [env WIJKFLOW_COOKIE_SECURE=false].")
@click.option("--forwarded-allow-ips", default="127.0.0.1", show_default=True, metavar="IPS",
              help="Reverse proxies whose X-Forwarded-For/-Proto are believed (comma separated, or *).")
@click.option("--check", is_flag=True, help="Check the settings and the database, say what serve would do, exit.")
@pass_flags
def serve(flags: Flags, host: str, port: int, insecure_cookies: bool, forwarded_allow_ips: str, check: bool) -> None:
    """Run the web server: the pages, sign-in, and the API the CLI uses with --server.

    The server is the one holder of the database credentials; people sign in through the
    municipality's identity provider (OIDC) or with a one-time link by email, and the CLI with a
    personal access token (`wijkflow login SERVER`). Put it behind an https reverse proxy for real
    use (README, "Running it for a municipality"). The embedded SQLite database is made if missing.
    """
    app = open_app(flags)
    from ..web.app import create_app, serving_plan

    plan = serving_plan(app, host=host, port=port, insecure_cookies=insecure_cookies)
    if not app.db.is_initialised():
        if check:
            click.echo(f"There is no wijkflow database at {app.db.where} yet; serve will create it.")
        else:
            app.db.init()
            click.echo(f"Created the wijkflow database at {app.db.where}.")
    for note in plan["notes"]:
        click.echo(note)
    click.echo(f"Session key: {plan['key_file']} (made on first start, readable by this account only).")
    if plan["sign_in"]:
        click.echo("People sign in at " + plan["public_url"].rstrip("/") + "/aanmelden "
                   + " or ".join(plan["sign_in"]) + ".")
    else:
        click.echo("Nobody can sign in yet: set oidc_issuer, oidc_client_id and oidc_client_secret, or login_links.")
    click.echo("Only people already known can sign in (`wijkflow people add EMAIL --name NAME`).")
    if check:
        click.echo(f"Would listen on {plan['url']}.")
        return
    web = create_app(app)
    import logging

    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    click.echo(f"Listening on {plan['url']} (Ctrl+C stops).")
    # uvicorn's own access log is off: it would write query strings (an OIDC code); ours never does.
    uvicorn.run(web, host=host, port=port, access_log=False, log_config=None, proxy_headers=True,
                forwarded_allow_ips=forwarded_allow_ips, server_header=False)


@cli.group()
def token() -> None:
    """Personal access tokens: how the CLI and scripts act as you against a server (wijkflow serve).

    A token is shown once, when it is made; the server keeps only its SHA-256. It expires
    (at most token_days, default 90) and can be revoked at once. `wijkflow login SERVER` makes one
    for this computer through the browser; these commands manage them.
    """


@token.command("create")
@click.argument("name")
@click.option("--days", type=int, default=None, help="How long it lasts (default and most: the setting token_days).")
@pass_flags
def token_create(flags: Flags, name: str, days: int | None) -> None:
    """Make a personal access token named NAME (e.g. the computer it is for); it is printed once."""
    app = open_app(flags)
    from ..services.signin import create_token

    made = create_token(app, app.settings.user, name, days)
    click.echo(made["token"])
    click.echo(f"Token {made['id']} ({made['name']}), valid until {made['expires']}. It is shown only now: keep it "
               "in a password manager or `wijkflow login SERVER --token TOKEN`.", err=True)


@token.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_flags
def token_list(flags: Flags, fmt: str) -> None:
    """Your tokens: name, first characters, made, expires, last used, state (never the tokens themselves)."""
    app = open_app(flags)
    from ..services.signin import list_tokens

    rows = list_tokens(app, app.settings.user)
    emit(rows, fmt, table=lambda: as_table(rows, [("id", "Id"), ("name", "Name"), ("prefix", "Starts with"),
                                                  ("expires", "Expires"), ("last_used", "Last used"),
                                                  ("state", "State")]))


@token.command("revoke")
@click.argument("token_id", metavar="ID", type=int)
@pass_flags
def token_revoke(flags: Flags, token_id: int) -> None:
    """Revoke token ID (yours; an administrator may revoke anyone's). It stops working at once."""
    app = open_app(flags)
    from ..services.signin import revoke_token

    revoked = revoke_token(app, app.settings.user, token_id)
    click.echo(f"Revoked token {revoked['id']} ({revoked['name']}).")
