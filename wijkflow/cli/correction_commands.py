"""Pausing, stopping, reopening and correcting a wijkaanpak: suspend, resume, stop, reopen, withdraw,
unassign, rename. Each change is its own event in the history, with the reason."""

from __future__ import annotations

import click

from . import Flags, cli, open_app, pass_flags
from .render import emit

JSON_OR_TABLE = click.Choice(["table", "json"])


@cli.command()
@click.argument("ref")
@click.option("--reason", required=True, help="Why it pauses; recorded in the history.")
@click.option("--format", "fmt", type=JSON_OR_TABLE, default="table")
@pass_flags
def suspend(flags: Flags, ref: str, reason: str, fmt: str) -> None:
    """Suspend (opschorten) wijkaanpak REF: its reminders wait until `resume`.

    Work may still be recorded while it is suspended; time in phase (and `min_days`) keeps
    counting. Projectleider or administrator.
    """
    from ..services.status import suspend as suspend_

    app = open_app(flags)
    r = suspend_(app, ref, reason=reason, acting=app.settings.user)
    emit(r, fmt, table=lambda: f"{r['name']} is suspended ({r['status_label']}) in phase {r['phase_label']}; "
                               "its reminders wait until it resumes.")


@cli.command()
@click.argument("ref")
@click.option("--reason", default=None, help="Why it resumes; recorded in the history.")
@click.option("--format", "fmt", type=JSON_OR_TABLE, default="table")
@pass_flags
def resume(flags: Flags, ref: str, reason: str | None, fmt: str) -> None:
    """Resume a suspended wijkaanpak REF (reminders that fell due meanwhile go out once)."""
    from ..services.status import resume as resume_

    app = open_app(flags)
    r = resume_(app, ref, reason=reason, acting=app.settings.user)
    emit(r, fmt, table=lambda: f"{r['name']} is active again in phase {r['phase_label']}.")


@cli.command()
@click.argument("ref")
@click.option("--reason", default=None, help="Why (e.g. the council's decision); required.")
@click.option("--format", "fmt", type=JSON_OR_TABLE, default="table")
@pass_flags
def stop(flags: Flags, ref: str, reason: str | None, fmt: str) -> None:
    """Stop (stopzetten) wijkaanpak REF for good, from whatever phase it is in.

    Stopped is final and distinct from a completed programme: every later change is refused
    and pending reminders are cancelled. Projectleider or administrator, with --reason; an
    administrator may `reopen` it.
    """
    from ..services.status import stop as stop_

    app = open_app(flags)
    r = stop_(app, ref, reason=reason, acting=app.settings.user)
    emit(r, fmt, table=lambda: f"{r['name']} is stopped ({r['status_label']}) in phase {r['phase_label']}; "
                               f"{r['reminders_cancelled']} pending reminders cancelled.")


@cli.command()
@click.argument("ref")
@click.option("--reason", default=None, help="Why; required, recorded in the history.")
@click.option("--format", "fmt", type=JSON_OR_TABLE, default="table")
@pass_flags
def reopen(flags: Flags, ref: str, reason: str | None, fmt: str) -> None:
    """Reopen a closed or stopped wijkaanpak REF (administrators only).

    A stopped one becomes active in its phase; a closed one goes back to the phase it left,
    as a new visit (its gate must be met again).
    """
    from ..services.status import reopen as reopen_

    app = open_app(flags)
    r = reopen_(app, ref, reason=reason, acting=app.settings.user)
    emit(r, fmt, table=lambda: f"{r['name']} is reopened ({r['was']} before), in phase {r['phase_label']}.")
