"""Setting up: the database, configuration, workflow definitions, people, the demo."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import StorageError, WijkflowError
from . import FORMATS, Flags, cli, open_app, pass_flags
from .render import as_table, emit, gate_lines, history_table


@cli.command()
@pass_flags
def init(flags: Flags) -> None:
    """Create the database, or bring an existing one up to date. Safe to run again."""
    app = open_app(flags)
    db = app.db
    before, after = db.upgrade()
    if before is None:
        click.echo(f"Created the wijkflow database at {db.where}.")
    elif before != after:
        click.echo(f"Upgraded the wijkflow database at {db.where} (schema revision {before} to {after}).")
    else:
        click.echo(f"Checked the wijkflow database at {db.where}.")
    from ..services.audit_log import ensure_key  # the one audit seam init needs

    try:
        key = ensure_key(app)
    except StorageError as exc:  # e.g. a database opened read-only: checking it must still succeed
        click.echo(f"The audit signing key is not set up yet ({exc}); the first `wijkflow audit checkpoint` "
                   "sets it up.", err=True)
        return
    click.echo(f"Audit checkpoints are signed with the key in {key['key_file']} (public half: wijkflow audit key).")


@cli.command("config")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_flags
def config_cmd(flags: Flags, fmt: str) -> None:
    """Show the settings in effect and where each comes from (passwords masked).

    Order: command-line flags, then WIJKFLOW_* environment variables, then
    wijkflow.toml (--config, WIJKFLOW_CONFIG or your user config directory), then defaults.
    """
    app = open_app(flags)
    shown = app.settings.shown()
    rows = [{"setting": k, "value": v["value"], "from": v["from"]} for k, v in shown.items()]
    emit(shown, fmt, table=lambda: as_table(rows, [("setting", "Setting"), ("value", "Value"),
                                                   ("from", "From")]))


cli.add_command(config_cmd, "info")


@cli.group()
def workflows() -> None:
    """Workflow definitions: the phases, gates and criteria a wijkaanpak follows."""


@workflows.command("list")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@pass_flags
def workflows_list(flags: Flags, fmt: str) -> None:
    """The definitions available for new wijkaanpakken."""
    app = open_app(flags)
    rows = [{"name": d.name, "version": d.version, "label": d.label, "phases": len(d.phases),
             "criteria": len(d.criteria), "file": str(path), "source_document": d.source_document}
            for d, path in app.registry.all()]
    emit(rows, fmt, table=lambda: as_table(rows, [("name", "Name"), ("version", "Version"), ("label", "Label"),
                                                  ("phases", "Phases"), ("criteria", "Criteria")]))


@workflows.command("show")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["text", "mermaid", "json"]), default="text",
              show_default=True, help="text for people, mermaid for a diagram, json for scripts.")
@pass_flags
def workflows_show(flags: Flags, name: str, fmt: str) -> None:
    """Show a definition: NAME (e.g. wijkaanpak) or the path of a YAML file.

    `--format mermaid` prints a state diagram (paste it into any Mermaid viewer).
    """
    from ..workflow_views import definition_text, mermaid

    app = open_app(flags)
    d = app.registry.get(name)
    if fmt == "json":
        emit(d.model_dump(mode="json"), "json")
    elif fmt == "mermaid":
        click.echo(mermaid(d))
    else:
        click.echo(definition_text(d))


@workflows.command("validate")
@click.argument("path", type=click.Path(dir_okay=False))
def workflows_validate(path: str) -> None:
    """Check a workflow definition file; errors name the file, the path in it and the line.

    Warnings (on stderr, exit 0) name what is valid but probably not meant, such as
    deadlines that would remind nobody.
    """
    from ..definitions import load_file, warnings

    d = load_file(path)
    for warning in warnings(d):
        click.echo(f"{path}: warning: {warning}.", err=True)
    click.echo(f"{path}: valid ({d.ref}: {len(d.phases)} phases, {len(d.transitions)} transitions, "
               f"{len(d.criteria)} criteria).")
    for warning in d.warnings():
        click.echo(f"Warning: {path}: {warning}", err=True)


@cli.group()
def people() -> None:
    """The people wijkflow knows: project leaders, coordinators, approvers, auditors."""


@people.command("add")
@click.argument("email")
@click.option("--name", required=True, help="Full name, as it appears in emails and reports.")
@click.option("--locale", type=click.Choice(["nl", "en"]), default="nl", show_default=True,
              help="Language of the emails this person receives.")
@click.option("--role", type=click.Choice(["admin", "auditor"]), default=None,
              help="A global role (roles on one wijkaanpak are given with `wijkflow assign`).")
@pass_flags
def people_add(flags: Flags, email: str, name: str, locale: str, role: str | None) -> None:
    """Add a person by EMAIL."""
    from ..services import add_person

    app = open_app(flags)
    p = add_person(app, email, name=name, locale=locale, role=role, acting=app.settings.user)
    click.echo(f"Added {p['name']} <{p['email']}> (locale {p['locale']}"
               f"{', ' + p['role'] if p['role'] else ''}).")


@people.command("list")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@pass_flags
def people_list(flags: Flags, fmt: str) -> None:
    """Everyone wijkflow knows."""
    from ..services import list_people

    app = open_app(flags)
    rows = list_people(app)
    emit(rows, fmt, table=lambda: as_table(rows, [("id", "#"), ("email", "Email"), ("name", "Name"),
                                                  ("locale", "Locale"), ("role", "Role")]))


@people.command("edit")
@click.argument("email")
@click.option("--name", default=None, help="The corrected full name.")
@click.option("--locale", type=click.Choice(["nl", "en"]), default=None, help="Language of their emails.")
@pass_flags
def people_edit(flags: Flags, email: str, name: str | None, locale: str | None) -> None:
    """Correct the name or mail language of EMAIL (administrators, or the person themselves)."""
    from ..services.people import edit_person

    app = open_app(flags)
    p = edit_person(app, email, name=name, locale=locale, acting=app.settings.user)
    click.echo(f"Changed {', '.join(p['changed'])} of {p['email']}.")


@people.command("forget")
@click.argument("email")
@pass_flags
def people_forget(flags: Flags, email: str) -> None:
    """Erase a person's name and email (AVG/GDPR). The history keeps a number, not the person."""
    from ..services import forget_person

    app = open_app(flags)
    p = forget_person(app, email, acting=app.settings.user)
    n = p["roles_ended"]
    ended = f"; their {n} role{'' if n == 1 else 's'} on wijkaanpakken ended" if n else ""
    click.echo(f"Erased person #{p['id']}: their name and email are gone{ended}; the history still verifies.")


@cli.command()
@click.option("--keep", metavar="DIR", type=str, default=None,
              help="Keep the demo database and outbox in this directory instead of a temporary one.")
@click.option("--force", is_flag=True, help="Replace a demo.db in DIR that an earlier demo did not make.")
@pass_flags
def demo(flags: Flags, keep: str | None, force: bool) -> None:
    """Run a whole wijkaanpak lifecycle on a throw-away database, narrated.

    Creates people and "Wijkaanpak Noord — De Noork" (Hengelo), shows a refused
    advance with its unmet criteria, satisfies the gates, takes one bijsturen loop,
    closes the aanpak and prints its history. Everything printed comes from the engine.
    """
    from ..demo import Views, run_demo

    run_demo(keep, echo=click.echo, views=Views(table=as_table, gate_lines=gate_lines, history=history_table),
             force=force, database=_configured_database(flags) if keep else None)


def _configured_database(flags: Flags) -> Path | None:
    """The SQLite file the settings name, which `demo --keep` must never replace; None when the
    settings do not load (the demo does not need them) or name PostgreSQL."""
    from ..config import load_settings
    from ..db import Database

    try:
        settings = load_settings(flags={"database_url": flags.database_url, "user": flags.user},
                                 config_path=flags.config)
        return Database(settings.database_url.get_secret_value()).path
    except WijkflowError:
        return None
