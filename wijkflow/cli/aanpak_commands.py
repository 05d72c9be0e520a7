"""Working on wijkaanpakken: create, look, complete, approve, advance, indicators, history."""

from __future__ import annotations

import json
from typing import Any

import click

from . import FORMATS, Flags, cli, open_app, pass_flags
from .bulk import stream_list
from .render import as_table, emit, gate_lines, history_table

ROLE_CHOICE = click.Choice(["projectleider", "coordinator", "approver"])


@cli.command()
@click.argument("name")
@click.option("--wijk", required=True, help="The wijk (neighbourhood) the aanpak is about.")
@click.option("--gemeente", default=None, help="The municipality (taken from --gemeente-code when left out "
              "and the code is in the shipped table).")
@click.option("--gemeente-code", default=None, metavar="GM....", help="CBS gemeente code, e.g. GM0164.")
@click.option("--wijk-code", default=None, metavar="WK......", help="CBS wijk code, e.g. WK016401.")
@click.option("--buurt-code", "buurt_codes", multiple=True, metavar="BU........",
              help="CBS buurt code, e.g. BU01640102 (repeatable: an aanpak may cover several buurten).")
@click.option("--workflow", default="wijkaanpak", show_default=True,
              help="Definition name (see `wijkflow workflows list`) or a YAML file.")
@click.option("--leader", required=True, metavar="EMAIL", help="The projectleider.")
@click.option("--coordinator", "coordinators", multiple=True, metavar="EMAIL",
              help="A coordinator / wijkregisseur (repeatable).")
@click.option("--approver", "approvers", multiple=True, metavar="EMAIL",
              help="A stuurgroep member who approves gates (repeatable).")
@click.option("--phase", default=None, help="For a programme already running: its current phase.")
@click.option("--since", default=None, metavar="DATE", help="With --phase: the day it entered that phase.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_flags
def new(flags: Flags, name: str, wijk: str, gemeente: str | None, gemeente_code: str | None,
        wijk_code: str | None, buurt_codes: tuple[str, ...], workflow: str, leader: str,
        coordinators: tuple[str, ...], approvers: tuple[str, ...], phase: str | None, since: str | None,
        fmt: str) -> None:
    """Start a new wijkaanpak NAME (or import a running one with --phase and --since).

    CBS codes (--gemeente-code, --wijk-code, --buurt-code) are checked by their form and
    against each other: a wijk lies in its gemeente, a buurt in its wijk. They let
    `wijkflow measure import` match open-data figures to the aanpak.

    \b
    Example:
      wijkflow --as pl@hengelo.nl new "Wijkaanpak Noord" --wijk Noord --gemeente Hengelo \\
          --wijk-code WK016401 --buurt-code BU01640102 \\
          --leader pl@hengelo.nl --coordinator wr@hengelo.nl --approver sg@hengelo.nl
    """
    from ..areas import make_areas
    from ..services import create_aanpak

    app = open_app(flags)
    areas = make_areas(gemeente=gemeente_code, wijk=wijk_code, buurten=buurt_codes)
    a = create_aanpak(app, name, wijk=wijk, gemeente=gemeente, workflow=workflow, leader=leader,
                      coordinators=coordinators, approvers=approvers, phase=phase, since=since,
                      acting=app.settings.user, areas=areas)
    emit(a, fmt, table=lambda: f"Created #{a['id']} {a['name']} ({a['slug']}) on {a['workflow']}, "
                               f"in phase {a['phase']} ({a['phase_label']}).")


@cli.command()
@click.argument("ref")
@click.argument("email")
@click.option("--role", type=ROLE_CHOICE, required=True, help="The role on this wijkaanpak.")
@pass_flags
def assign(flags: Flags, ref: str, email: str, role: str) -> None:
    """Give EMAIL a role on wijkaanpak REF (its number or slug)."""
    from ..services import assign_role

    app = open_app(flags)
    r = assign_role(app, ref, email, role=role, acting=app.settings.user)
    click.echo(f"{r['email']} is {'now' if r['changed'] else 'already'} {role} of {r['aanpak']}.")


@cli.command("list")
@click.option("--phase", default=None, help="Only aanpakken in this phase: its key or Dutch label, any case "
              "(execute, Uitvoeren).")
@click.option("--wijk", default=None, help="Only this wijk.")
@click.option("--gemeente", default=None, help="Only this municipality.")
@click.option("--stalled", is_flag=True, help="Only aanpakken in a phase longer than it should last.")
@click.option("--theme", default=None, help="Only aanpakken linked to this theme (veranderopgave).")
@click.option("--area", default=None, metavar="CODE", help="Only aanpakken in or around this CBS code: "
              "GM0164 (the gemeente), WK016401 (the wijk, and aanpakken on its buurten), BU01640102.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@pass_flags
def list_cmd(flags: Flags, phase: str | None, wijk: str | None, gemeente: str | None, stalled: bool,
             theme: str | None, area: str | None, fmt: str) -> None:
    """List wijkaanpakken with their phase and days in phase.

    json and csv stream row by row (any portfolio size, flat memory), with a progress bar on
    stderr when a person watches a terminal while the rows go to a file or a pipe.
    """
    from ..services import list_aanpakken
    from ..services.aanpak import count_aanpakken, iter_aanpakken

    app = open_app(flags)
    if fmt != "table":
        stream_list(iter_aanpakken(app, phase=phase, wijk=wijk, gemeente=gemeente, stalled=stalled, theme=theme,
                                   area=area),
                    fmt, total=lambda: count_aanpakken(app, phase=phase, wijk=wijk, gemeente=gemeente, area=area))
        return
    rows = list_aanpakken(app, phase=phase, wijk=wijk, gemeente=gemeente, stalled=stalled, theme=theme, area=area)
    shown = [{**r, "areas": " ".join(r["areas"])} for r in rows]
    emit(rows, fmt, table=lambda: as_table(shown, [
        ("id", "#"), ("slug", "Slug"), ("name", "Name"), ("wijk", "Wijk"), ("gemeente", "Gemeente"),
        ("areas", "CBS codes"), ("phase_label", "Phase"), ("days_in_phase", "Days"), ("stalled", "Stalled"),
        ("status", "Status")])
        if rows else "No wijkaanpakken match.")


def _show_text(a: dict[str, Any]) -> str:
    lines = [f"#{a['id']} {a['name']}  ({a['slug']})",
             f"  Wijk: {a['wijk']}" + (f", gemeente {a['gemeente']}" if a["gemeente"] else ""),
             *_area_lines(a.get("areas") or {}),
             f"  Workflow: {a['workflow']['label']} ({a['workflow']['name']} v{a['workflow']['version']})",
             f"  Phase: {a['phase_label']} [{a['phase']}] since {a['phase_since'][:10]} "
             f"({a['days_in_phase']} days{', STALLED' if a['stalled'] else ''})"]
    if a.get("status", "active") != "active":
        lines.insert(4, f"  Status: {a['status_label']} [{a['status']}]")
    if a.get("as_of"):
        lines.insert(1, f"  As of: {a['as_of']}")
    for p in a["people"]:
        who = "(vacant)" if p.get("vacant") else f"{p['name']} <{p['email'] or '-'}>"
        lines.append(f"  {p['role']}: {who}")
    for g in a["gates"]:
        met = sum(1 for c in g["criteria"] if c["met"])
        state = "open" if g["passed"] else "blocked"
        lines.append(f"\nGate to {g['to_label']} [{g['to']}] \"{g['label']}\": {state}, "
                     f"{met}/{len(g['criteria'])} criteria met")
        lines.extend(gate_lines(g))
    if a["deadlines"]:
        lines.append("\nDeadlines: " + ", ".join(f"{k} {v}" for k, v in a["deadlines"].items()))
    if a["indicators"]:
        lines.append("Indicators: " + ", ".join(a["indicators"]))
    if a.get("archief"):
        lines.append("Archief: " + a["archief"]["text"])
    return "\n".join(lines)


def _area_lines(areas: dict[str, Any]) -> list[str]:
    codes = [c for c in (areas.get("gemeente_code"), areas.get("wijk_code"), *areas.get("buurt_codes", [])) if c]
    if not codes:
        return []
    return ["  CBS codes: " + " ".join(codes) + (f" ({areas['gemeente_naam']})" if areas.get("gemeente_naam")
                                                   else "")]


@cli.command()
@click.argument("ref")
@click.option("--gemeente-code", default=None, metavar="GM....", help="CBS gemeente code, e.g. GM0164.")
@click.option("--wijk-code", default=None, metavar="WK......", help="CBS wijk code, e.g. WK016401.")
@click.option("--buurt-code", "buurt_codes", multiple=True, metavar="BU........",
              help="CBS buurt code (repeatable); the codes given replace the aanpak's buurten.")
@click.option("--clear", is_flag=True, help="Remove every code first (then set what is given).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_flags
def area(flags: Flags, ref: str, gemeente_code: str | None, wijk_code: str | None, buurt_codes: tuple[str, ...],
         clear: bool, fmt: str) -> None:
    """Set the CBS area codes of wijkaanpak REF (projectleider or administrator; recorded in the history).

    Codes are checked by form (GM + 4 digits, WK + 6, BU + 8; the last places may be capital
    letters where CBS uses them) and against each other (a buurt lies in its wijk and gemeente).

    \b
    Example:
      wijkflow area wijkaanpak-noord --wijk-code WK016401 --buurt-code BU01640102 --buurt-code BU01640103
    """
    from ..services.areas import change_areas

    app = open_app(flags)
    r = change_areas(app, ref, gemeente_code=gemeente_code, wijk_code=wijk_code,
                     buurt_codes=buurt_codes or None, clear=clear, acting=app.settings.user)

    def text() -> str:
        codes = _area_lines(r["areas"])
        now = codes[0].strip() if codes else "no CBS codes"
        return f"{r['name']}: {now}" + ("." if r["changed"] else " (unchanged).")

    emit(r, fmt, table=text)


@cli.command()
@click.argument("ref")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--as-of", "as_of", default=None, metavar="DATE",
              help="As it stood at the end of DATE (YYYY-MM-DD), rebuilt from the history.")
@pass_flags
def show(flags: Flags, ref: str, fmt: str, as_of: str | None) -> None:
    """Where wijkaanpak REF stands: phase, people, and every gate out of this phase."""
    from ..services import show_aanpak
    from ..services.asof import show_as_of

    app = open_app(flags)
    a = show_as_of(app, ref, as_of) if as_of else show_aanpak(app, ref)
    emit(a, fmt, table=lambda: _show_text(a))


@cli.command()
@click.argument("ref")
@click.option("--to", "to", default=None, metavar="PHASE", help="The gate towards this phase "
              "(default: the first way out the definition lists).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_flags
def gate(flags: Flags, ref: str, to: str | None, fmt: str) -> None:
    """What is met and what still blocks leaving the current phase."""
    from ..services import gate_status

    app = open_app(flags)
    g = gate_status(app, ref, to=to)

    def text() -> str:
        head = (f"{g['name']}: {g['phase_label']} [{g['phase']}] -> {g['to_label']} [{g['to']}] "
                f"\"{g['label']}\": " + ("all criteria met, ready to advance" if g["passed"]
                                         else f"{sum(1 for c in g['criteria'] if not c['met'] and not c['optional'])}"
                                         " criteria still block"))
        return "\n".join([head, *gate_lines(g)])

    emit(g, fmt, table=text)


@cli.command()
@click.argument("ref")
@click.argument("criterion")
@click.option("--evidence", default=None, help="A link or short description of the evidence.")
@pass_flags
def complete(flags: Flags, ref: str, criterion: str, evidence: str | None) -> None:
    """Mark deliverable CRITERION of wijkaanpak REF as completed (projectleider only)."""
    from ..services import complete as complete_

    app = open_app(flags)
    r = complete_(app, ref, criterion, evidence=evidence, acting=app.settings.user)
    click.echo(f"Completed '{r['label']}' [{r['criterion']}] for {r['aanpak']}.")


@cli.command()
@click.argument("ref")
@click.argument("criterion")
@click.option("--comment", default=None, help="Why, or the decision it rests on.")
@click.option("--party", default=None, help="For a criterion signed by several parties (gebiedstafel, "
              "lokaal contract): the party you sign for.")
@click.option("--evidence", default=None, help="With --party: the decision document (link or reference).")
@pass_flags
def approve(flags: Flags, ref: str, criterion: str, comment: str | None, party: str | None,
            evidence: str | None) -> None:
    """Approve CRITERION of wijkaanpak REF (approvers only; never your own deliverable)."""
    from ..services import approve as approve_

    app = open_app(flags)
    r = approve_(app, ref, criterion, comment=comment, party=party, evidence=evidence, acting=app.settings.user)
    if "party" in r:
        left = f"; still waiting for {', '.join(r['remaining'])}" if r["remaining"] else "; all parties signed"
        click.echo(f"Signed '{r['label']}' [{r['criterion']}] for {r['party_label']} on {r['aanpak']}{left}.")
        return
    click.echo(f"Approved '{r['label']}' [{r['criterion']}] for {r['aanpak']}.")


@cli.command()
@click.argument("ref")
@click.argument("criterion")
@click.argument("date")
@pass_flags
def deadline(flags: Flags, ref: str, criterion: str, date: str) -> None:
    """Set the DATE (YYYY-MM-DD, local) by which CRITERION of REF must be met."""
    from ..services import set_deadline

    app = open_app(flags)
    r = set_deadline(app, ref, criterion, date, acting=app.settings.user)
    was = f" (was {r['previous']})" if r["previous"] else ""
    click.echo(f"Deadline for {r['criterion']} of {r['aanpak']}: {r['due']}{was}.")


@cli.command()
@click.argument("ref")
@click.option("--to", "to", default=None, metavar="PHASE",
              help="Where to go when there is more than one way out (e.g. execute to bijsturen).")
@click.option("--reason", default=None, help="Why; recorded in the history.")
@click.option("--dry-run", is_flag=True, help="Only say whether it would move; change nothing.")
@click.option("--override", is_flag=True, help="Administrators only: move despite unmet criteria "
              "(needs --reason; recorded as an override).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_flags
def advance(flags: Flags, ref: str, to: str | None, reason: str | None, dry_run: bool, override: bool,
            fmt: str) -> None:
    """Move wijkaanpak REF to its next phase, if every criterion of the gate is met.

    A refusal (exit code 3) lists every criterion that is not met.
    """
    from ..services import advance as advance_

    app = open_app(flags)
    r = advance_(app, ref, acting=app.settings.user, to=to, reason=reason, dry_run=dry_run, override=override)

    def text() -> str:
        move = f"{r['from_label']} [{r['from']}] -> {r['to_label']} [{r['to']}]"
        if dry_run:
            verdict = "would move" if r["would_move"] else "would be refused"
            return "\n".join([f"Dry run: {r['name']} {verdict}: {move}.", *gate_lines(r["gate"])])
        return f"{r['name']} moved {move}" + (" (OVERRIDE)" if r["override"] else "") + "."

    emit(r, fmt, table=text)
    if dry_run and not r["would_move"]:
        raise click.exceptions.Exit(3)


@cli.group()
def indicator() -> None:
    """Indicators (succesindicatoren) of a wijkaanpak."""


@indicator.command("add")
@click.argument("ref")
@click.argument("key")
@click.option("--label", default=None, help="What is measured, e.g. 'Veiligheidsbeleving' "
              "(needed unless --from-catalogue).")
@click.option("--unit", default=None, help="e.g. %, aantal, rapportcijfer.")
@click.option("--baseline", default=None, help="The nulmeting.")
@click.option("--baseline-date", default=None, metavar="DATE", help="When the nulmeting was taken (default: today).")
@click.option("--target", default=None, help="The streefwaarde.")
@click.option("--target-date", default=None, metavar="DATE", help="When the streefwaarde should be reached.")
@click.option("--direction", type=click.Choice(["higher", "lower"]), default=None,
              help="Which way is better [default: higher, or the catalogue's].")
@click.option("--from-catalogue", is_flag=True, help="Take label, unit and direction from the shipped "
              "catalogue (`wijkflow indicator catalogue`).")
@pass_flags
def indicator_add(flags: Flags, ref: str, key: str, label: str | None, unit: str | None, baseline: str | None,
                  baseline_date: str | None, target: str | None, target_date: str | None, direction: str | None,
                  from_catalogue: bool) -> None:
    """Add indicator KEY to wijkaanpak REF."""
    from ..services import add_indicator

    app = open_app(flags)
    r = add_indicator(app, ref, key, label=label, unit=unit, baseline=baseline, target=target,
                      direction=direction, baseline_date=baseline_date, target_date=target_date,
                      from_catalogue=from_catalogue, acting=app.settings.user)
    click.echo(f"Added indicator {r['key']} ({r['label']}) to {r['aanpak']}.")


@click.command("measure")
@click.argument("ref")
@click.argument("key", required=False)
@click.argument("value", required=False)
@click.option("--date", "on", default=None, metavar="DATE", help="The day measured (default: today).")
@click.option("--source", default=None, help="Where the figure comes from.")
@click.option("--correct", nargs=2, default=None, metavar="ID VALUE",
              help="Correct measurement number ID to VALUE (with --reason); the old figure stays in the history.")
@click.option("--withdraw", "withdraw_id", default=None, metavar="ID",
              help="Withdraw measurement number ID (with --reason): it no longer counts.")
@click.option("--reason", default=None, help="With --correct or --withdraw: why; recorded in the history.")
@pass_flags
def measure_one(flags: Flags, ref: str, key: str | None, value: str | None, on: str | None, source: str | None,
                correct: tuple[str, str] | None, withdraw_id: str | None, reason: str | None) -> None:
    """Record a measurement VALUE of indicator KEY of wijkaanpak REF, or correct / withdraw one.

    \b
    Examples:
      wijkflow measure wijkaanpak-noord veiligheid 6.8 --date 2026-05-01
      wijkflow measure wijkaanpak-noord --correct 12 6.9 --reason "Typfout"
      wijkflow measure wijkaanpak-noord --withdraw 12 --reason "Dubbel ingevoerd"

    A measurement's number is printed when it is recorded, and shown by `wijkflow history`.
    """
    if correct is not None or withdraw_id is not None:
        if key is not None or (correct is not None and withdraw_id is not None):
            raise click.UsageError("Give either KEY VALUE, or --correct ID VALUE, or --withdraw ID.")
        from ..services.corrections import correct_measurement, withdraw_measurement

        app = open_app(flags)
        if correct is not None:
            c = correct_measurement(app, ref, correct[0], correct[1], reason=reason, acting=app.settings.user)
            click.echo(f"Corrected measurement #{c['measurement_id']} of {c['indicator']} ({c['date']}): "
                       f"{c['old']:g} -> {c['value']:g}, for {c['aanpak']}.")
        else:
            w = withdraw_measurement(app, ref, withdraw_id, reason=reason, acting=app.settings.user)
            click.echo(f"Withdrew measurement #{w['measurement_id']} of {w['indicator']} "
                       f"({w['value']:g} on {w['date']}) for {w['aanpak']}.")
        return
    if key is None or value is None:
        raise click.UsageError("Give the indicator KEY and the VALUE measured.")
    from ..services import measure as measure_

    app = open_app(flags)
    r = measure_(app, ref, key, value, on=on, source=source, acting=app.settings.user)
    click.echo(f"Recorded {r['indicator']} = {r['value']:g} on {r['date']} for {r['aanpak']} (measurement #{r['id']}).")


class MeasureGroup(click.Group):
    """`measure REF KEY VALUE` records one figure (as it always did); `measure import FILE` reads a file.

    Anything but a subcommand's name goes to the one-figure form, so an aanpak whose slug is
    `import` is measured by its number."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None,
                                                                            list[str]]:
        if args and args[0] not in self.commands:
            return "measure", measure_one, args
        return super().resolve_command(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage("wijkflow measure", "REF KEY VALUE [--date DATE] [--source S] | REF --correct ID VALUE "
                                                 "--reason R | REF --withdraw ID --reason R | import FILE ...")


@cli.group(cls=MeasureGroup)
def measure() -> None:
    """Record a measurement: `measure REF KEY VALUE [--date D] [--source S]`, or read a file of
    open-data figures for every matching aanpak: `measure import FILE --source cbs|leefbaarometer|csv`."""


@measure.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--source", type=click.Choice(["cbs", "leefbaarometer", "csv"]), required=True,
              help="cbs: CBS Kerncijfers wijken en buurten (StatLine CSV or OData JSON); leefbaarometer: the "
                   "Leefbaarometer 3.0 scores file; csv: a code column and one column per indicator.")
@click.option("--year", type=int, default=None,
              help="The year of the CBS indeling the codes follow (for cbs: the year of the Kerncijfers).")
@click.option("--peildatum", default=None, metavar="DATE", help="The day the figures describe "
              "[cbs: 1 January of --year; leefbaarometer: 1 January of each row's jaar; csv: its peildatum column].")
@click.option("--map", "maps", multiple=True, metavar="COLUMN=KEY",
              help="Map a column to an indicator key, overriding the shipped mapping (repeatable; COLUMN= leaves "
                   "a column out).")
@click.option("--add-indicators", is_flag=True,
              help="Add a missing catalogue indicator to a matching aanpak instead of skipping its figure.")
@click.option("--dry-run", is_flag=True, help="Say what would be recorded; write nothing.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_flags
def measure_import(flags: Flags, file: str, source: str, year: int | None, peildatum: str | None,
                   maps: tuple[str, ...], add_indicators: bool, dry_run: bool, fmt: str) -> None:
    """Record the figures of an open-data FILE on every aanpak whose CBS code matches, in one transaction.

    An aanpak takes the figures of its wijk code (or its only buurt code, or its gemeente code).
    Each is recorded with its source, peildatum, area code and indeling year; the same file
    imported again changes nothing. Columns map to indicators as wijkflow/data/open_data_mapping.yaml
    says (--map overrides).

    \b
    Example:
      wijkflow measure import kwb-2022.csv --source cbs --year 2022
      wijkflow measure import "Leefbaarometer-scores buurten 2002-2022.csv" --source leefbaarometer
    """
    from ..services.measure_import import import_measurements

    app = open_app(flags)
    r = import_measurements(app, file, source=source, year=year, peildatum=peildatum, maps=maps,
                            add_indicators=add_indicators, dry_run=dry_run, acting=app.settings.user)

    def text() -> str:
        verb = "would record" if dry_run else "recorded"
        lines = [f"Read {r['file']} ({r['read_as']}): {r['rows']} rows, {r['figures']} figures in "
                 + ", ".join(f"{c} -> {k}" for c, k in r["columns"].items()) + ".",
                 f"{'Dry run: ' if dry_run else ''}{verb} {len(r['recorded'])} measurements"
                 f" on {len({m['aanpak'] for m in r['recorded']})} aanpakken; {r['unchanged']} already recorded"
                 + ("; nothing was written." if dry_run else ".")]
        lines += [f"  {m['aanpak']}: {m['indicator']} = {m['value']:g} on {m['date']} ({m['area_code']})"
                  for m in r["recorded"][:50]]
        lines += [f"  skipped {s['aanpak']}: {s['reason']}" for s in r["skipped"]]
        return "\n".join(lines)

    emit(r, fmt, table=text)


@cli.command()
@click.argument("ref")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@pass_flags
def indicators(flags: Flags, ref: str, fmt: str) -> None:
    """Progress toward target for each indicator of wijkaanpak REF."""
    from ..services import progress

    app = open_app(flags)
    rows = progress(app, ref)
    emit(rows, fmt, table=lambda: as_table(rows, [
        ("key", "Key"), ("label", "Label"), ("unit", "Unit"), ("direction", "Better"), ("baseline", "Baseline"),
        ("baseline_date", "On"), ("latest", "Latest"), ("latest_date", "On"), ("target", "Target"),
        ("target_date", "By"), ("progress_pct", "% to target"), ("status", "Status"),
        ("measurements", "Measurements")])
        if rows else "No indicators yet; add one with `wijkflow indicator add`.")


HISTORY_CSV = ["id", "at", "type", "actor_name", "actor_email", "from_phase", "to_phase", "reason",
               "evidence", "payload", "hash", "origin"]


@cli.command()
@click.argument("ref")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@pass_flags
def history(flags: Flags, ref: str, fmt: str) -> None:
    """Every change to wijkaanpak REF: who, when, what, why and with which evidence."""
    from ..services import history as history_

    app = open_app(flags)
    events = history_(app, ref)
    flat = [{**e, "actor_name": (e["actor"] or {}).get("name"), "actor_email": (e["actor"] or {}).get("email"),
             "origin": json.dumps(e["origin"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
             if e["origin"] else None} for e in events]

    emit(events, fmt, table=lambda: history_table(events), csv_rows=flat, csv_columns=HISTORY_CSV)
