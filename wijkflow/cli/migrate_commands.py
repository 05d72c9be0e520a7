"""`wijkflow migrate`: move running aanpakken to a new version of their workflow definition."""

from __future__ import annotations

from typing import Any

import click

from ..errors import InvalidInput
from . import Flags, cli, open_app, pass_flags
from .render import emit


@cli.command("migrate")
@click.argument("ref", required=False)
@click.option("--all", "all_", is_flag=True, help="Every running aanpak of --workflow (administrators only).")
@click.option("--to-version", "to_version", type=int, required=True, metavar="N",
              help="The definition version to move to.")
@click.option("--workflow", metavar="NAME|PATH",
              help="The new version's YAML file, or the workflow's name (then version N is looked up in the "
                   "database and the workflows directories). Required with --all.")
@click.option("--map", "maps", multiple=True, metavar="OLD=NEW",
              help="Where an aanpak in phase OLD goes when version N has no phase OLD: the phase in its place "
                   "(repeatable). A mapping only renames; it never moves an aanpak past a gate.")
@click.option("--override", is_flag=True,
              help="Administrators: let a --map move the aanpak to a next phase past its gate, recorded as an "
                   "override (phase_changed + gate_overridden); needs --reason.")
@click.option("--reason", help="Why; recorded in the history.")
@click.option("--dry-run", is_flag=True, help="Show what would change and write nothing.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@pass_flags
def migrate_cmd(flags: Flags, ref: str | None, all_: bool, to_version: int, workflow: str | None,
                maps: tuple[str, ...], override: bool, reason: str | None, dry_run: bool, fmt: str) -> None:
    """Move REF (or --all) to version N of its workflow definition.

    Shows the difference for each aanpak: phases, the criteria on its next gate and the
    reminders that change. The phase and this visit's criteria records stay: met work is
    never re-opened (a migration that would re-open it is refused), and records of criteria
    the new version no longer has stay in the history without counting. An aanpak in a
    phase the new version lacks is refused unless --map says where it goes: the phase in
    its place at the same point of the lifecycle. A mapping that would move an aanpak to
    another phase is refused (an administrator may do it with --override --reason, recorded
    as a gate override). Pending
    reminders are rescheduled from the new rules. Writes a `definition_migrated` event.
    The projectleider of the aanpak or an administrator; --all administrators only.
    """
    from ..services.migrate import migrate, parse_mapping

    if bool(ref) == all_:
        raise InvalidInput("Name one aanpak (REF) or give --all, not both or neither.")
    app = open_app(flags)
    r = migrate(app, None if all_ else ref, to_version=to_version, workflow=workflow,
                mapping=parse_mapping(maps), dry_run=dry_run, reason=reason, override=override,
                acting=app.settings.user)
    if fmt == "json":
        emit(r, "json")
        return
    for m in r["migrated"]:
        click.echo(_text(m))
    for s in r["skipped"]:
        click.echo(f"{s['aanpak']}: skipped, {s['why']}.")
    n = len(r["migrated"])
    noun = "aanpak" if n == 1 else "aanpakken"
    if dry_run:
        click.echo(f"Dry run: {n} {noun} would move to {r['to']}; nothing was written.")
    else:
        click.echo(f"Moved {n} {noun} to {r['to']}.")


def _text(m: dict[str, Any]) -> str:
    d = m["diff"]
    phase = (f"{m['from_label']} ({m['from_phase']})" if m["from_phase"] == m["to_phase"]
             else f"{m['from_label']} ({m['from_phase']}) -> {m['to_label']} ({m['to_phase']})")
    lines = [f"{m['name']} [{m['aanpak']}]: {m['from']} -> {m['to']}, phase {phase}"]
    ph = d["phases"]
    for p in ph["added"]:
        lines.append(f"  + phase {p['label']} ({p['key']})")
    for p in ph["removed"]:
        lines.append(f"  - phase {p['label']} ({p['key']})")
    for p in ph["relabelled"]:
        lines.append(f"  ~ phase {p['key']}: {p['from']} -> {p['to']}")
    g = d["gate"]
    if g["from"] != g["to"]:
        lines.append(f"  next phases: {', '.join(g['from']) or '-'} -> {', '.join(g['to']) or '-'}")
    for c in g["added"]:
        lines.append(f"  + criterion {c['label']} [{c['key']}]")
    for c in g["removed"]:
        met = " (met; its records stay in the history)" if c["key"] in d["criteria_no_longer_asked_but_met"] else ""
        lines.append(f"  - criterion {c['label']} [{c['key']}]: no longer asked{met}")
    for c in g["changed"]:
        lines.append(f"  ~ criterion {c['label']} [{c['key']}]: its rules change")
    rem = d["reminders"]
    for r in rem["cancelled"]:
        lines.append(f"  - reminder {r['rule']} ({r['kind']}{', ' + r['criterion'] if r['criterion'] else ''}) "
                     f"due {r['due_at'][:16].replace('T', ' ')}")
    for r in rem["scheduled"]:
        lines.append(f"  + reminder {r['rule']} ({r['kind']}{', ' + r['criterion'] if r['criterion'] else ''}) "
                     f"due {r['due_at'][:16].replace('T', ' ')}")
    if m.get("override"):
        lines.append(f"  moved on to {m['to_label']} ({m['to_phase']}) past an unmet gate: an administrator's override")
    if len(lines) == 1:
        lines.append("  nothing changes for this aanpak but the version it follows")
    return "\n".join(lines)
