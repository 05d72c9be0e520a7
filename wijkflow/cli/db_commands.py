"""`wijkflow db ...`: the schema's revision and history, upgrading, and copying to another database."""

from __future__ import annotations

import sys

import click

from . import FORMATS, Flags, cli, open_app, pass_flags
from .render import as_table, emit


@cli.group("db")
def db_group() -> None:
    """The database itself: schema revision, upgrades, copying (e.g. SQLite to PostgreSQL)."""


@db_group.command("upgrade")
@pass_flags
def db_upgrade(flags: Flags) -> None:
    """Bring the database's schema to the newest revision (as `init` does). Safe to run again."""
    from ..services.schema import upgrade

    app = open_app(flags)
    r = upgrade(app)
    if r["created"]:
        click.echo(f"Created the wijkflow database at {r['database']} (schema revision {r['after']}).")
    elif r["changed"]:
        click.echo(f"Upgraded the database at {r['database']} from schema revision {r['before']} to {r['after']}.")
    else:
        click.echo(f"The database at {r['database']} is up to date (schema revision {r['after']}).")


@db_group.command("current")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@pass_flags
def db_current(flags: Flags, fmt: str) -> None:
    """The schema revision of the database, and the newest this wijkflow knows."""
    from ..services.schema import schema_status

    app = open_app(flags)
    s = schema_status(app)
    if fmt != "table":
        emit([s] if fmt == "csv" else s, fmt)
        return
    if s["revision"] is None:
        click.echo(f"{s['database']}: no wijkflow tables yet (newest revision {s['head']}); run `wijkflow init`.")
    elif not s["known"]:
        click.echo(f"{s['database']}: schema revision {s['revision']}, newer than this wijkflow knows "
                   f"(newest here {s['head']}); use the wijkflow that upgraded it.")
    elif s["up_to_date"]:
        click.echo(f"{s['database']}: schema revision {s['revision']} (newest).")
    else:
        click.echo(f"{s['database']}: schema revision {s['revision']}; newest is {s['head']}: "
                   "run `wijkflow db upgrade`.")


@db_group.command("history")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@pass_flags
def db_history(flags: Flags, fmt: str) -> None:
    """Every schema revision, oldest first; the database's own is marked."""
    from ..services.schema import schema_history

    app = open_app(flags)
    rows = schema_history(app)
    emit(rows, fmt, table=lambda: as_table(
        [{**r, "mark": "*" if r["current"] else ""} for r in rows],
        [("mark", ""), ("revision", "Revision"), ("down_revision", "After"), ("description", "Change")]))


@db_group.command("copy")
@click.option("--to", "to_url", required=True, metavar="URL",
              help="The empty database to copy into: postgresql+psycopg://... or a SQLite path.")
@pass_flags
def db_copy(flags: Flags, to_url: str) -> None:
    """Copy everything into an empty database, ids and history intact (e.g. SQLite to PostgreSQL).

    The target gets the newest schema; the tables are copied in one transaction, so a
    failed copy leaves it as it was. A target that already holds wijkflow data is refused
    (exit 6). Afterwards the copied history is verified. Point wijkflow at the new
    database with --db or WIJKFLOW_DATABASE_URL.
    """
    from ..services.schema import copy_database

    bar = None
    show = sys.stderr.isatty()

    def start(total: int) -> None:
        nonlocal bar
        if show and total:
            bar = click.progressbar(length=total, label="Copying rows", file=sys.stderr)
            bar.__enter__()

    def progress(n: int) -> None:
        if bar is not None:
            bar.update(n)

    app = open_app(flags)
    try:
        r = copy_database(app, to_url, start=start, progress=progress)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    click.echo(f"Copied {r['rows']} rows in {sum(1 for n in r['tables'].values() if n)} tables from {r['from']} "
               f"to {r['to']}.")
    if r["events"]:
        click.echo(f"The copied history verifies: {r['events']} events, head {r['head_hash']} (same as the source).")
    else:
        click.echo("There was no history to verify (no events yet).")


@db_group.command("backup")
@click.argument("file", metavar="FILE")
@click.option("--force", is_flag=True, help="Replace FILE if it already exists.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_flags
def db_backup(flags: Flags, file: str, force: bool, fmt: str) -> None:
    """Back up the SQLite database to FILE while wijkflow keeps running, and check the copy.

    The copy is one consistent snapshot (SQLite's backup API, not a file copy that can catch a
    half-written journal). It is kept only when it passes SQLite's integrity check and its whole
    history verifies; the head it prints proves a restore later:

    \b
      wijkflow db backup /backup/wijkflow-2026-06-01.db
      wijkflow --db /backup/wijkflow-2026-06-01.db audit verify --expect-head HEAD

    PostgreSQL: use pg_dump (README, "Backups").
    """
    from ..services.backup import backup_database

    app = open_app(flags)
    r = backup_database(app, file, force=force)
    emit(r, fmt, table=lambda: "\n".join([
        f"Backed up {r['database']} to {r['backup']} ({r['bytes']:,} bytes).",
        f"The backup passes SQLite's integrity check and its history verifies: {r['events']} events, "
        f"head {r['head_hash']}." if r["events"] else
        "The backup passes SQLite's integrity check; there is no history yet (no events).",
        "Keep the head apart from the backup; after a restore, `wijkflow audit verify --expect-head HEAD` "
        "proves the history is the same."]))
