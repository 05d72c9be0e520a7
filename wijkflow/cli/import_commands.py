"""`wijkflow import`: bring in a portfolio of running aanpakken."""

from __future__ import annotations

import sys

import click

from . import Flags, cli, open_app, pass_flags
from .render import as_json, as_table

SHOWN = 50  # rows listed in the table output; a portfolio of hundreds is for --format json


@cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check every row and say what it would be (new, unchanged, updated, "
              "conflict); write nothing.")
@click.option("--update", is_flag=True, help="Apply the differences of rows whose aanpak exists, each as an "
              "audited change (name, wijk, gemeente, ref, people, indicators; never the phase).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_flags
def import_cmd(flags: Flags, file: str, dry_run: bool, update: bool, fmt: str) -> None:
    """Import running wijkaanpakken from FILE (.csv or .yaml) in one transaction.

    Each row gives name, wijk, gemeente, workflow, phase and since (the day it entered
    that phase), the people (leader, coordinators, approvers: an email, or
    "Name <email>" to add someone new: once an administrator exists, only an administrator
    may do that) and indicators with baseline and target.
    If any row is bad, nothing is imported and every bad row is listed with its line
    number (exit code 2). See README for the columns.

    Importing the same file twice changes nothing: a row whose aanpak exists (by its `ref`
    column when given, else by gemeente, wijk and name, compared without regard to case and
    spaces) is unchanged when equal, and a conflict (exit 2, nothing written) when it differs,
    unless --update is given. Two rows for one aanpak in one file are refused.

    A CSV may be separated by `,` or `;` (Excel in a Dutch locale) and be UTF-8, with or
    without a BOM, or Windows-1252; the output says which was read. Lists in
    a cell (coordinators, approvers, buurt_codes, indicators) are separated by `|`.

    \b
    Example:
      wijkflow --as pl@hengelo.nl import portfolio.csv --dry-run
      wijkflow --as pl@hengelo.nl import portfolio.csv
    """
    from ..services import import_portfolio

    bar = None
    state = {"shown": 0}

    def on_row(done: int, total: int) -> None:
        nonlocal bar
        if not sys.stderr.isatty():  # a progress bar only for a person watching a terminal
            return
        if bar is None:
            bar = click.progressbar(length=total, label="Importing", file=sys.stderr)
            bar.__enter__()
        bar.update(done - state["shown"])
        state["shown"] = done

    app = open_app(flags)
    try:
        r = import_portfolio(app, file, dry_run=dry_run, update=update, acting=app.settings.user, on_row=on_row)
    finally:
        if bar is not None:  # end the bar before anything else is written: the result, or bad rows (exit 2)
            bar.__exit__(None, None, None)
    conflicts = r["counts"]["conflict"]
    if fmt == "json":
        click.echo(as_json(r))
    else:
        _text(r, dry_run)
    if conflicts:  # only a dry run gets here with conflicts; a real import refused them (ImportRejected)
        raise click.exceptions.Exit(2)


def _text(r: dict, dry_run: bool) -> None:
    verb = "would import" if dry_run else "imported"
    c = r["counts"]
    others = ", ".join(f"{c[k]} {k}" for k in ("unchanged", "updated", "conflict") if c[k])
    click.echo(f"{'Dry run: ' if dry_run else ''}{r['file']}: {verb} {len(r['created'])} wijkaanpakken"
               + (f" ({others})" if others else "")
               + (f" and {len(r['people_added'])} new people" if r["people_added"] else "")
               + ("; nothing was written." if dry_run else " in one transaction."))
    how = r["read_as"]
    click.echo(f"Read as {how['encoding']}" + (f", cells separated by '{how['separator']}'." if "separator" in how
                                               else "."))
    shown = r["results"] if dry_run or others else r["created"]
    if len(shown) > SHOWN:
        click.echo(f"(too many to list here; --format json lists all {len(shown)})")
    elif shown:
        click.echo(as_table(shown, [("line", "Line"), ("status", "Status"), ("slug", "Slug"), ("name", "Name"),
                                    ("phase", "Phase"), ("workflow", "Workflow")]
                            if "status" in shown[0] else [("line", "Line"), ("slug", "Slug"), ("name", "Name"),
                                                           ("phase", "Phase"), ("workflow", "Workflow")]))
        for row in shown:
            if row.get("why"):
                click.echo(f"  line {row['line']}: {row['why']}")
