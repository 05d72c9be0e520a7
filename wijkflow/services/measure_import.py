"""`wijkflow measure import FILE --source cbs|leefbaarometer|csv`: open-data figures onto every matching aanpak.

The file is read first (opendata.py), then everything lands in ONE transaction. An aanpak takes
the figures of its own area: its wijk code; without one, its only buurt code; with neither, its
gemeente code. An aanpak on several buurten without a wijk code takes none (a share of
households cannot be added up over buurten without their sizes) and is reported as skipped.
Each figure becomes a measurement with its source, peildatum, area code and indeling year, and a
`measurement_recorded` event; a figure already recorded (same indicator, day, source, value and
area) is left alone, so importing the same file again changes nothing.

Who: an administrator for every aanpak; anyone else for the aanpakken where they are
projectleider or coordinator (as `measure`), the rest is reported as skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .. import store
from ..app import App
from ..areas import Areas
from ..catalogue import catalogue
from ..errors import InvalidInput, NotAllowed
from ..opendata import SOURCE_LABEL, Figure, read
from .common import Context, actor, load
from .indicators import add_indicator_in


class _DryRunDone(Exception):
    """Raised inside the transaction to roll back a dry run."""


def own_code(areas: Areas) -> str | None:
    """The one code whose figures are the aanpak's (see the module's docstring)."""
    if areas.wijk:
        return areas.wijk
    if len(areas.buurten) == 1:
        return areas.buurten[0]
    return areas.gemeente if not areas.buurten else None


def import_measurements(app: App, path: str | Path, *, source: str, year: int | None = None,
                        peildatum: str | None = None, maps: Iterable[str] = (), add_indicators: bool = False,
                        dry_run: bool = False, acting: str | None) -> dict[str, Any]:
    reading = read(path, source, year=year, peildatum=peildatum, overrides=maps)
    now = app.now()
    today = now.astimezone(app.tz).date()
    future = next((f for f in reading.figures if f.peildatum > today), None)
    if future is not None:
        raise InvalidInput(f"{path}: the peildatum {future.peildatum} of {future.code} lies in the future.")
    by_code: dict[str, list[Figure]] = {}
    for f in reading.figures:
        by_code.setdefault(f.code, []).append(f)
    report: dict[str, Any] = {
        "file": str(path), "source": source, "read_as": reading.read_as, "rows": reading.rows,
        "figures": len(reading.figures), "columns": reading.columns, "dry_run": dry_run,
        "recorded": [], "unchanged": 0, "skipped": []}
    report.update(not_yours=[], yours=0)
    try:
        with app.db.write() as conn:
            who = actor(conn, acting)
            holders = store.aanpak_ids_for_codes(conn, by_code)
            for aanpak_id in sorted({a for ids in holders.values() for a in ids}):
                ctx = load(conn, str(aanpak_id), app.definitions)
                _one(conn, app, ctx, who, by_code, source, add_indicators, now, report)
            if report["not_yours"] and not report["yours"]:
                raise NotAllowed(f"Only the projectleider, a coordinator or an administrator may record measurements; "
                                 f"{who.email} is none of these on {', '.join(report['not_yours'])}.")
            if dry_run:
                raise _DryRunDone
    except _DryRunDone:
        pass
    del report["not_yours"], report["yours"]
    return report


def _one(conn: Any, app: App, ctx: Context, who: Any, by_code: dict[str, list[Figure]], source: str,
         add_indicators: bool, now: Any, report: dict[str, Any]) -> None:
    slug = ctx.row.slug

    def skip(reason: str) -> None:
        report["skipped"].append({"aanpak": slug, "reason": reason})

    code = own_code(Areas.from_codes(store.area_codes(conn, ctx.row.id)))
    if code is None:
        return skip("it covers several buurten and has no wijk code, so no single figure is its own")
    figures = by_code.get(code)
    if not figures:
        return skip(f"the file has no figures for its own area {code}")
    if who.role != "admin" and not ({"projectleider", "coordinator"} & {r.role for r in ctx.roles
                                                                        if r.person_id == who.id}):
        report["not_yours"].append(slug)
        return skip(f"{who.email} is neither its projectleider nor a coordinator")
    report["yours"] += 1
    touched = False
    for f in figures:
        ind = store.indicator(conn, ctx.row.id, f.key)
        if ind is None:
            if not (add_indicators and f.key in catalogue()):
                skip(f"it has no indicator '{f.key}' (add it, or import with --add-indicators)")
                continue
            add_indicator_in(conn, app, ctx, f.key, label=None, unit=None, baseline=None, target=None,
                             direction=None, baseline_date=None, target_date=None, from_catalogue=True,
                             who=who, now=now)
            ind = store.indicator(conn, ctx.row.id, f.key)
            assert ind is not None
        if ind.baseline_date is not None and f.peildatum < ind.baseline_date:
            skip(f"{f.key}: the peildatum {f.peildatum} lies before its baseline ({ind.baseline_date})")
            continue
        label = f"{SOURCE_LABEL[source]} (indeling {f.indeling})"
        if store.measurement_exists(conn, ind.id, measured_on=f.peildatum, source=label, value=f.value,
                                    area_code=f.code):
            report["unchanged"] += 1
            continue
        store.insert_measurement(conn, indicator_id=ind.id, value=f.value, measured_on=f.peildatum, source=label,
                                 person_id=who.id, at=now, area_code=f.code, indeling=f.indeling)
        store.append_event(conn, at=now, type="measurement_recorded", aanpak_id=ctx.row.id, actor_id=who.id,
                           payload={"indicator": f.key, "value": f.value, "date": f.peildatum.isoformat(),
                                    "source": label, "area_code": f.code, "indeling": f.indeling,
                                    "column": f.column, "file": Path(report["file"]).name})
        report["recorded"].append({"aanpak": slug, "indicator": f.key, "value": f.value,
                                   "date": f.peildatum.isoformat(), "area_code": f.code})
        touched = True
    if touched:
        store.touch_aanpak(conn, ctx.row.id, now)
