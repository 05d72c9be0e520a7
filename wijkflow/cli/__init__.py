"""The `wijkflow` command. Thin: parse, call one service function, render.

Only click and the error classes are imported at start-up; each command body imports the
services it needs and builds the App (`open_app`), so `wijkflow --help` stays fast.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from ..errors import WijkflowError

if TYPE_CHECKING:
    from ..app import App

# csv: RFC 4180, `,`, UTF-8; csv-excel: what Excel with a Dutch locale opens as is (`;`, decimal comma,
# UTF-8 with BOM, nl-NL dates: wijkflow/spreadsheet.py).
FORMATS = click.Choice(["table", "json", "csv", "csv-excel"])


@dataclass(frozen=True)
class Flags:
    """The group's own flags, kept in ctx.obj. A command builds the App from them with `open_app`."""

    database_url: str | None = None
    user: str | None = None
    config: str | None = None


pass_flags = click.make_pass_decorator(Flags)

# Inside `wijkflow serve` the command tree runs per request (web/cli_bridge.py) on the server's own App,
# acting as the token's person: a ContextVar, so that threads serving other requests see their own.
_SERVED: ContextVar[App | None] = ContextVar("wijkflow_served_app", default=None)


@contextmanager
def serving(app: App) -> Iterator[None]:
    """Commands run in this block use `app` (the server's, already acting as the caller) and leave it open."""
    token = _SERVED.set(app)
    try:
        yield
    finally:
        _SERVED.reset(token)


def open_app(flags: Flags) -> App:
    """The App for the running command: the flags, then WIJKFLOW_* variables, then wijkflow.toml.

    Called in a command's body, so `wijkflow --help` and commands without a database never load
    the settings, pydantic or SQLAlchemy. The App is closed when the command ends; inside the
    server (`serving`) it is the server's App, which the server closes.
    """
    served = _SERVED.get()
    if served is not None:
        return served
    # The CLI's one deferred import, for start-up time: the modules above are all `--help` loads.
    from ..app import App
    from ..config import load_settings

    app = App(load_settings(flags={"database_url": flags.database_url, "user": flags.user},
                            config_path=flags.config))
    click.get_current_context().call_on_close(app.close)
    return app


class WijkflowGroup(click.Group):
    """Turns wijkflow's own errors into stderr text and the documented exit code, in one place.

    The text is the error's own (`str(exc)`: its sentence, then any listed details indented);
    the exit code is the error class's. Done here (not only in main) so that click's CliRunner
    sees the same behaviour as a user.
    """

    def main(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        # A byte that is not UTF-8 reaches Python as a lone surrogate and fails much later, wherever the
        # text is printed or stored (exit 1, UnicodeEncodeError): refuse it before anything runs.
        argv = sys.argv[1:] if args is None else list(args)
        problem = not_utf8(argv)
        if problem is not None:
            click.echo(f"Error: {problem}", err=True)
            sys.exit(2)
        if _SERVED.get() is None and (os.environ.get("WIJKFLOW_SERVER")
                                      or any(a == "--server" or a.startswith("--server=") for a in argv)):
            # Remote mode (cli/remote.py): noticed before any command body runs, so nothing heavier than
            # `--help` loads; the command runs on the server, which answers with its output and exit code.
            from .remote import run_remote

            code = run_remote(argv)
            if code is not None:
                sys.exit(code)
        return super().main(args, *rest, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        as_json = wants_json(list(ctx.args))  # the words after the command name
        try:
            return super().invoke(ctx)
        except WijkflowError as exc:
            if _debug(ctx):
                # --debug adds the traceback; the exit code stays the documented one.
                click.echo(traceback.format_exc().rstrip(), err=True)
            click.echo(error_text(exc, as_json), err=True)
            ctx.exit(exc.exit_code)


def error_text(exc: WijkflowError, as_json: bool) -> str:
    """What stderr says about `exc`: the sentence, or (for a script that asked for JSON) one JSON object."""
    if as_json:
        # A script that asked for JSON gets its errors as JSON on stderr too (README: JSON errors).
        return json.dumps({"error": exc.message, "exit_code": exc.exit_code, "type": type(exc).__name__,
                           "details": list(exc.details)}, ensure_ascii=False)
    return f"Error: {exc}"


def not_utf8(argv: list[str]) -> str | None:
    """The sentence refusing the first argument that is not UTF-8 text, or None when all are."""
    for n, arg in enumerate(argv, start=1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError as err:
            byte = arg.encode("utf-8", "surrogateescape")[len(arg[:err.start].encode("utf-8", "surrogateescape"))]
            return (f"Argument {n} is not UTF-8 text (byte 0x{byte:02x}); give names, keys and paths as UTF-8 "
                    "(check the terminal's or the script's encoding).")
    return None


def wants_json(args: list[str]) -> bool:
    """Whether the command line asks for `--format json` (or jsonl): then errors are JSON too."""
    for i, arg in enumerate(args):
        if arg == "--format" and i + 1 < len(args) and args[i + 1] in ("json", "jsonl"):
            return True
        if arg in ("--format=json", "--format=jsonl"):
            return True
    return False


def _debug(ctx: click.Context) -> bool:
    return bool(ctx.params.get("debug")) or bool(os.environ.get("WIJKFLOW_DEBUG"))


@click.group(cls=WijkflowGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--db", "database_url", metavar="URL",
              help="Database: a SQLite file path, sqlite:///PATH or postgresql+psycopg://... "
                   "[env WIJKFLOW_DATABASE_URL; default: wijkflow.db in your user data directory]")
@click.option("--as", "user", metavar="EMAIL",
              help="Who is acting (recorded in the history) [env WIJKFLOW_USER].")
@click.option("--config", "config", metavar="PATH", type=click.Path(dir_okay=False),
              help="A wijkflow.toml with settings [env WIJKFLOW_CONFIG].")
@click.option("--debug", is_flag=True, help="Show a traceback when something unexpected fails.")
@click.option("--server", "server", metavar="URL",
              help="Run the command on a wijkflow server, as the person `wijkflow login URL` signed in "
                   "(--as, --db and --config are refused then) [env WIJKFLOW_SERVER].")
@click.version_option(package_name="wijkflow", prog_name="wijkflow")
@click.pass_context
def cli(ctx: click.Context, database_url: str | None, user: str | None, config: str | None,
        debug: bool, server: str | None) -> None:
    """wijkflow runs Dutch neighbourhood programmes (wijkaanpakken) as gated workflows.

    Each wijkaanpak moves through phases (Initiëren → Ontwerpen → Uitvoeren →
    Monitoren → Evalueren → Afgesloten, with loops back to bijsturen). Leaving a phase
    is gated: deliverables with evidence, approvals by the stuurgroep, indicator
    baselines and time in phase must be met first. Every change is recorded in a
    tamper-evident history.

    \b
    Getting started:
      wijkflow demo                                  see a whole lifecycle on a throw-away database
      wijkflow init                                  create the database
      wijkflow people add pl@gemeente.nl --name "Fleur Mensink"
      wijkflow --as pl@gemeente.nl new "Wijkaanpak Noord" --wijk Noord --leader pl@gemeente.nl
      wijkflow gate wijkaanpak-noord                 what still blocks the next phase

    Exit codes: 0 done, 2 bad input, 3 gate not met, 4 not found, 5 not allowed,
    6 conflict (retry), 7 audit verification failed, 1 unexpected.
    """
    if (server or os.environ.get("WIJKFLOW_SERVER")) and _SERVED.get() is None \
            and ctx.invoked_subcommand not in (None, "login", "logout"):
        # A safety net: with a server named, a command reaching this point would run on this computer's
        # database instead (cli/remote.py sends every command line it can).
        raise click.UsageError("This command line cannot be sent to the server; check its options.")
    ctx.obj = Flags(database_url=database_url, user=user, config=config)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or bool(os.environ.get("WIJKFLOW_DEBUG"))
    try:
        cli.main(args=args, prog_name="wijkflow")
    except KeyboardInterrupt:
        click.echo("Interrupted; nothing half-written (each change is one transaction).", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # noqa: BLE001 - the one place that turns surprises into exit 1
        if debug:
            raise
        click.echo(f"Error: unexpected {type(exc).__name__}: {exc} (run with --debug for details).", err=True)
        sys.exit(1)


from . import (  # noqa: E402,F401 - registers the commands
    aanpak_commands,
    admin,
    audit_commands,
    correction_commands,
    db_commands,
    import_commands,
    login_commands,
    migrate_commands,
    programme_commands,
    reminder_commands,
    serve_commands,
    zgw_commands,
)
from .complete import attach  # noqa: E402 - after every command is registered

attach(cli)
