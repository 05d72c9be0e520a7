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
                               f"pending reminders cancelled: {r['reminders_cancelled']}.")


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


@cli.command()
@click.argument("ref")
@click.argument("criterion")
@click.option("--reason", default=None, help="Why; required, recorded in the history.")
@click.option("--party", default=None, help="For a criterion signed per party: whose sign-off is withdrawn.")
@click.option("--format", "fmt", type=JSON_OR_TABLE, default="table")
@pass_flags
def withdraw(flags: Flags, ref: str, criterion: str, reason: str | None, party: str | None, fmt: str) -> None:
    """Withdraw a completion, an approval or a party's sign-off of CRITERION; the gate re-opens.

    By whoever may give it (the projectleider for a deliverable, the criterion's role for an
    approval or sign-off), or an administrator. The history keeps both, and says why.
    """
    from ..services.corrections import withdraw as withdraw_

    app = open_app(flags)
    r = withdraw_(app, ref, criterion, reason=reason, party=party, acting=app.settings.user)
    whose = f" for {r['party_label']}" if "party_label" in r else ""
    emit(r, fmt, table=lambda: f"Withdrew '{r['label']}' [{r['criterion']}] ({r['withdrawn']}{whose}) "
                               f"for {r['aanpak']}; the criterion is open again.")


@cli.command()
@click.argument("ref")
@click.argument("email")
@click.option("--role", type=click.Choice(["projectleider", "coordinator", "approver"]), required=True,
              help="The role that ends.")
@click.option("--reason", default=None, help="Why; recorded in the history.")
@pass_flags
def unassign(flags: Flags, ref: str, email: str, role: str, reason: str | None) -> None:
    """End EMAIL's ROLE on wijkaanpak REF (projectleider or administrator)."""
    from ..services.corrections import unassign_role

    app = open_app(flags)
    r = unassign_role(app, ref, email, role=role, reason=reason, acting=app.settings.user)
    click.echo(f"{r['email']} is no longer {r['role']} of {r['aanpak']}.")


@cli.command()
@click.argument("ref")
@click.argument("name")
@click.option("--reason", default=None, help="Why; recorded in the history.")
@pass_flags
def rename(flags: Flags, ref: str, name: str, reason: str | None) -> None:
    """Give wijkaanpak REF a new NAME (its slug, and so REF, stays the same)."""
    from ..services.corrections import rename as rename_

    app = open_app(flags)
    r = rename_(app, ref, name, reason=reason, acting=app.settings.user)
    click.echo(f"Renamed {r['aanpak']}: {r['old_name']} -> {r['name']}.")
