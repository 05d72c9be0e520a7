"""The source programmes' own things: interpreting figures, the indicator catalogue,
the wijkontwikkelingsplan (analysis + uitvoeringsagenda) and themes with intended results."""

from __future__ import annotations

from typing import Any

import click

from . import FORMATS, Flags, cli, open_app, pass_flags
from .aanpak_commands import indicator
from .render import as_table, emit


@cli.command()
@click.argument("ref")
@click.option("--conclusion", required=True, help="What the figures mean, in your judgement (a signal "
              "such as the Leefbaarometer is not proof by itself).")
@click.option("--indicator", "keys", multiple=True, metavar="KEY",
              help="The indicator(s) the conclusion is about (repeatable; default: all).")
@pass_flags
def interpret(flags: Flags, ref: str, conclusion: str, keys: tuple[str, ...]) -> None:
    """Record your interpretation of the indicator figures of wijkaanpak REF.

    Gates with an `interpretation` criterion need one in the current phase, made after
    the latest measurement.
    """
    from ..services import interpret as interpret_

    app = open_app(flags)
    r = interpret_(app, ref, conclusion=conclusion, indicators=keys, acting=app.settings.user)
    about = ", ".join(r["indicators"]) or "all indicators"
    click.echo(f"Recorded the interpretation of {about} for {r['aanpak']} by {r['by']}.")


@indicator.command("catalogue")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def indicator_catalogue(fmt: str) -> None:
    """Common indicators to pick from: `wijkflow indicator add REF KEY --from-catalogue`."""
    from ..catalogue import catalogue

    rows = [e.model_dump() for e in catalogue().values()]
    emit(rows, fmt, table=lambda: as_table(rows, [("key", "Key"), ("label", "Label"), ("unit", "Unit"),
                                                  ("direction", "Better"), ("source", "Source")]))


@indicator.command("set")
@click.argument("ref")
@click.argument("key")
@click.option("--baseline", default=None, help="The nulmeting.")
@click.option("--baseline-date", default=None, metavar="DATE", help="When the nulmeting was taken.")
@click.option("--target", default=None, help="The streefwaarde.")
@click.option("--target-date", default=None, metavar="DATE", help="When the streefwaarde should be reached.")
@pass_flags
def indicator_set(flags: Flags, ref: str, key: str, baseline: str | None, baseline_date: str | None,
                  target: str | None, target_date: str | None) -> None:
    """Set or correct the baseline or target of indicator KEY of wijkaanpak REF."""
    from ..services import update_indicator

    app = open_app(flags)
    r = update_indicator(app, ref, key, baseline=baseline, baseline_date=baseline_date, target=target,
                         target_date=target_date, acting=app.settings.user)

    def fmt(value: float | None, day: str | None) -> str:
        return "-" if value is None else f"{value:g}" + (f" ({day})" if day else "")

    click.echo(f"Indicator {r['key']} of {r['aanpak']}: baseline {fmt(r['baseline'], r['baseline_date'])}, "
               f"target {fmt(r['target'], r['target_date'])}.")


# --- the wijkontwikkelingsplan -------------------------------------------------------------


@cli.group()
def plan() -> None:
    """The wijkontwikkelingsplan: analysis (strong points, knelpunten) and uitvoeringsagenda."""


def _plan_text(p: dict[str, Any]) -> str:
    lines = [f"Wijkontwikkelingsplan of {p['name']} ({p['aanpak']})", "", "Analysis"]
    lines += [f"  + {t}" for t in p["strengths"]] or ["  (no strong points yet)"]
    lines += [f"  - {t}" for t in p["bottlenecks"]] or ["  (no knelpunten yet)"]
    lines += ["", "Partners: " + (", ".join(f"{x['name']} ({x['activities']})" for x in p["partners"])
                                  or "none yet"), "", "Uitvoeringsagenda"]
    if p["activities"]:
        lines.append(as_table(p["activities"], [("number", "#"), ("title", "Activity"), ("partner", "Partner"),
                                                ("year", "Year"), ("status_label", "Status")]))
    else:
        lines.append("  (no activities yet)")
    return "\n".join(lines)


@plan.command("show")
@click.argument("ref")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True,
              help="csv (csv-excel for Excel in nl-NL) lists the activities.")
@pass_flags
def plan_show(flags: Flags, ref: str, fmt: str) -> None:
    """The analysis, the partners and the uitvoeringsagenda of wijkaanpak REF."""
    from ..services import plan_view

    app = open_app(flags)
    p = plan_view(app, ref)
    emit(p, fmt, table=lambda: _plan_text(p), csv_rows=p["activities"],
         csv_columns=["number", "title", "partner", "year", "status"])


@plan.command("analyse")
@click.argument("ref")
@click.option("--strong", "strengths", multiple=True, metavar="TEXT", help="A strong point (repeatable).")
@click.option("--bottleneck", "bottlenecks", multiple=True, metavar="TEXT", help="A knelpunt (repeatable).")
@pass_flags
def plan_analyse(flags: Flags, ref: str, strengths: tuple[str, ...], bottlenecks: tuple[str, ...]) -> None:
    """Add strong points and knelpunten to the analysis of wijkaanpak REF."""
    from ..services import add_analysis

    app = open_app(flags)
    r = add_analysis(app, ref, strengths=strengths, bottlenecks=bottlenecks, acting=app.settings.user)
    click.echo(f"Added {len(r['added'])} point(s) to the analysis of {r['aanpak']}.")


@plan.command("partner")
@click.argument("ref")
@click.argument("name")
@pass_flags
def plan_partner(flags: Flags, ref: str, name: str) -> None:
    """Name partner NAME on wijkaanpak REF (besides those the workflow definition names)."""
    from ..services import add_partner

    app = open_app(flags)
    r = add_partner(app, ref, name, acting=app.settings.user)
    click.echo(f"{r['partner']} is now a partner of {r['aanpak']}.")


STATUS_CHOICE = click.Choice(["planned", "running", "done", "dropped", "gepland", "lopend", "gereed", "vervallen"],
                             case_sensitive=False)


@plan.command("activity")
@click.argument("ref")
@click.argument("title")
@click.option("--partner", required=True, help="The partner responsible.")
@click.option("--year", required=True, help="The year it is planned for.")
@click.option("--status", type=STATUS_CHOICE, default="planned", show_default=True)
@pass_flags
def plan_activity(flags: Flags, ref: str, title: str, partner: str, year: str, status: str) -> None:
    """Add activity TITLE to the uitvoeringsagenda of wijkaanpak REF."""
    from ..services import add_activity

    app = open_app(flags)
    r = add_activity(app, ref, title, partner=partner, year=year, status=status, acting=app.settings.user)
    click.echo(f"Added activity #{r['number']} \"{r['title']}\" ({r['partner']}, {r['year']}, "
               f"{r['status_label']}) to {r['aanpak']}.")


@plan.command("update")
@click.argument("ref")
@click.argument("number")
@click.option("--status", type=STATUS_CHOICE, default=None)
@click.option("--year", default=None, help="Move it to another year.")
@click.option("--partner", default=None, help="Hand it to another partner.")
@pass_flags
def plan_update(flags: Flags, ref: str, number: str, status: str | None, year: str | None,
                partner: str | None) -> None:
    """Update activity NUMBER of the uitvoeringsagenda of wijkaanpak REF."""
    from ..services import update_activity

    app = open_app(flags)
    r = update_activity(app, ref, number, status=status, year=year, partner=partner, acting=app.settings.user)
    click.echo(f"Activity #{r['number']} \"{r['title']}\" of {r['aanpak']}: {r['partner']}, {r['year']}, "
               f"{r['status_label']}.")


# --- themes (veranderopgaven) with intended results ----------------------------------------


@cli.group()
def theme() -> None:
    """Themes (veranderopgaven) an aanpak contributes to, with its intended results."""


@theme.command("add")
@click.argument("ref")
@click.argument("theme_name", metavar="THEME")
@click.option("--result", "results", multiple=True, metavar="TEXT",
              help="A beoogd resultaat under this theme (repeatable).")
@pass_flags
def theme_add(flags: Flags, ref: str, theme_name: str, results: tuple[str, ...]) -> None:
    """Link wijkaanpak REF to THEME, or add intended results to a theme it is linked to."""
    from ..services import link_theme

    app = open_app(flags)
    r = link_theme(app, ref, theme_name, results=results, acting=app.settings.user)
    what = "Linked" if r["linked"] else "Updated"
    click.echo(f"{what} {r['aanpak']} to {r['label']} [{r['theme']}] with {len(r['results_added'])} "
               "new intended result(s).")


@theme.command("list")
@click.argument("ref")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_flags
def theme_list(flags: Flags, ref: str, fmt: str) -> None:
    """The themes of wijkaanpak REF with their intended results."""
    from ..services import theme_view

    app = open_app(flags)
    rows = theme_view(app, ref)

    def text() -> str:
        if not rows:
            return "No themes yet; link one with `wijkflow theme add`."
        lines = []
        for t in rows:
            lines.append(f"{t['label']} [{t['theme']}]")
            lines += [f"  - {r}" for r in t["results"]] or ["  (no intended results yet)"]
        return "\n".join(lines)

    emit(rows, fmt, table=text)
