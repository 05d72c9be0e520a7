"""The HTML reports: one wijkaanpak, or the whole portfolio, as a self-contained page."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from .. import gates, store
from ..app import App
from ..outputs import check_output, write_atomic
from ..reporting import LOCALE, charts, describe, render
from ..roles import FORGOTTEN_PERSON, person_name
from .aanpak import show_aanpak
from .audit import head
from .common import Context, facts, local_iso, local_midnight_utc, person_ref
from .history_view import history
from .plan import plan_view
from .themes import theme_view


def _target(app: App, path: str, force: bool) -> Path:
    """Checked before any work (outputs.py: never the database, a link, a device or someone else's file)."""
    return check_output(path, database=app.db.path, force=force)


def _write(app: App, target: Path, html: str, force: bool) -> dict[str, Any]:
    """All or nothing: the page appears complete or not at all (written aside, then renamed)."""
    return write_atomic(target, html.encode("utf-8"), database=app.db.path, force=force)


def _stays(events: list[dict[str, Any]], fallback_phase: str, fallback_since: datetime,
           tz: Any) -> list[dict[str, Any]]:
    """The visits of each phase, from the history: since, until (None while still in it)."""
    stays: list[dict[str, Any]] = []
    for e in events:
        if e["type"] not in ("aanpak_created", "phase_changed"):
            continue
        at = datetime.fromisoformat(e["at"])
        if stays:
            stays[-1]["until"] = at
        since = at
        if e["type"] == "aanpak_created" and e["payload"].get("imported_since"):
            since = local_midnight_utc(date.fromisoformat(e["payload"]["imported_since"]), tz)
        stays.append({"phase": e["to_phase"], "since": since, "until": None})
    if not stays:  # an aanpak without history yet (e.g. written by an import): its row is all we know
        stays.append({"phase": fallback_phase, "since": fallback_since, "until": None})
    return stays


def aanpak_report(app: App, ref: str, path: str, *, force: bool = False) -> dict[str, Any]:
    target = _target(app, path, force)
    data = aanpak_data(app, ref)
    html = render("report_aanpak.html.j2", **data)
    return {**_write(app, target, html, force), "what": f"report on {data['a']['name']}"}


def aanpak_data(app: App, ref: str, *, locale: str = LOCALE, chain: bool = True) -> dict[str, Any]:
    """What the report on one aanpak shows (also the web's aanpak page): the aanpak as `show` sees it,
    its history, the gates passed, the timeline, the indicators with their charts, the programme.

    Text that is not the definition's own (gate reasons, event sentences) is in `locale`. `chain`: also the
    chain head (counts every event: the report's footer wants it, a page viewed often does not)."""
    # Built from the existing read use-cases, each its own read transaction: a change landing in
    # between could show in one part and not yet in another. The timeline, the gates passed and
    # the history all come from the same list of events, so they always agree with each other.
    now = app.now()
    a = show_aanpak(app, ref, locale=locale)
    events = history(app, ref)
    with app.db.read() as conn:
        row = store.find_aanpak(conn, ref)
        definition = store.definition(conn, app.definitions, row.definition_id)
        inds = store.indicators(conn, row.id)
        ms = store.measurements(conn, row.id)
    programme = _programme(app, ref, row, definition, {i.key: i.label for i in inds})
    chain_head = head(app) if chain else None
    stays = _stays(events, row.phase, row.phase_since, app.tz)
    final = {p.key for p in definition.phases if p.final}
    end = next((s["since"] for s in stays if s["phase"] in final), now)
    for s in stays:
        if s["phase"] in final:
            s["until"] = s["until"] or s["since"]
    lanes = [(p.key, p.label) for p in definition.phases if not p.final]
    words = "en" if locale == "en" else LOCALE
    timeline = charts.timeline(lanes, [s for s in stays if s["phase"] not in final], end, app.tz, locale=words)
    # The same stays as words (the visits of each phase with their dates), for readers who cannot see the chart.
    visits = [{"phase": s["phase"], "phase_label": definition.phase_label(s["phase"]),
               "since": local_iso(s["since"], app.tz), "until": local_iso(s["until"], app.tz),
               "days": gates.calendar_days(s["since"], s["until"] or now), "final": s["phase"] in final}
              for s in stays]
    passed = [{"at": e["at"], "actor": e["actor"], "from_label": e["from_label"], "to_label": e["to_label"],
               "reason": e["reason"], "override": bool(e["payload"].get("override")),
               "label": e["payload"].get("label", ""),
               "criteria": [{**c, "at": local_iso(datetime.fromisoformat(c["at"]), app.tz) if c.get("at") else None,
                             "why": gates.snapshot_why(c, locale)}
                            for c in e["payload"].get("gate", [])]}
              for e in events if e["type"] == "phase_changed"]
    indicators = []
    for i in inds:
        own = [(m.measured_on, m.value) for m in ms if m.key == i.key]
        indicators.append({"key": i.key, "label": i.label, "unit": i.unit, "baseline": i.baseline,
                           "baseline_date": i.baseline_date.isoformat() if i.baseline_date else None,
                           "target": i.target, "direction": i.direction,
                           "measurements": [{"date": d.isoformat(), "value": v} for d, v in own],
                           "chart": charts.indicator_chart(i.baseline, i.target, own, start=i.baseline_date,
                                                           locale=words)})
    return {"a": a, "events": [{**e, "what": describe(e, locale)} for e in events], "passed": passed,
            "timeline": timeline, "visits": visits, "indicators": indicators, "chain": chain_head,
            "programme": programme, "generated": local_iso(now, app.tz), "closed": a["phase"] in final}


def _programme(app: App, ref: str, row: Any, definition: Any, indicator_labels: dict[str, str]) -> dict[str, Any]:
    """What the programme is made of (Arnhem's themes, Geldrop-Mierlo's plan, the gebiedstafel's
    sign-offs, the readings of the figures), for the report."""
    plan = plan_view(app, ref)
    agenda: list[dict[str, Any]] = []
    for act in sorted(plan["activities"], key=lambda a: (a["partner"].casefold(), a["year"] or 0, a["number"])):
        if not agenda or agenda[-1]["name"] != act["partner"]:
            agenda.append({"name": act["partner"], "count": 0, "years": []})
        partner = agenda[-1]
        if not partner["years"] or partner["years"][-1]["year"] != act["year"]:
            partner["years"].append({"year": act["year"], "first": not partner["years"], "activities": []})
        partner["years"][-1]["activities"].append(act)
        partner["count"] += 1
    with app.db.read() as conn:
        readings = store.interpretations(conn, row.id)
        signed = store.party_approvals(conn, row.id, row.visit)
        people = store.people_by_id(conn, {r.person_id for r in [*readings, *signed] if r.person_id})
    signoffs: list[dict[str, Any]] = []
    for t in definition.outgoing(row.phase):
        for key in t.gate:
            c = definition.criteria[key]
            if c.kind != "parties" or any(s["key"] == key for s in signoffs):
                continue
            done = {p.party: p for p in signed if p.criterion == key}
            signoffs.append({"key": key, "label": c.label, "parties": [
                {"label": label, "by": (person_ref(people, done[k].person_id) or {}).get("name") if k in done else None,
                 "at": local_iso(done[k].at, app.tz) if k in done else None,
                 "evidence": done[k].evidence if k in done else None} for k, label in c.parties.items()]})
    return {
        "themes": theme_view(app, ref), "plan": plan, "agenda": agenda, "signoffs": signoffs,
        "interpretations": [{"at": local_iso(r.at, app.tz), "by": (person_ref(people, r.person_id) or {}).get("name"),
                             "phase_label": definition.phase_label(r.phase), "conclusion": r.conclusion,
                             "indicators": [indicator_labels.get(k, k) for k in (r.indicators or "").split(",") if k]}
                            for r in readings],
    }


def portfolio_report(app: App, path: str, *, force: bool = False) -> dict[str, Any]:
    target = _target(app, path, force)
    now = app.now()
    rows = []
    with app.db.read() as conn:
        themes = store.themes_by_aanpak(conn)
        for row in store.list_aanpakken(conn):
            d = store.definition(conn, app.definitions, row.definition_id)
            ctx = Context(row=row, definition=d, roles=store.roles(conn, row.id))
            f = facts(conn, ctx)
            outgoing = d.outgoing(row.phase)
            result = gates.evaluate(d, outgoing[0], f, now) if outgoing else None
            phase = d.phase(row.phase)
            days = int((now - row.phase_since) / timedelta(days=1))
            leader_ids = ctx.holders("projectleider")
            people = store.people_by_id(conn, leader_ids)
            rows.append({
                "id": row.id, "slug": row.slug, "name": row.name, "wijk": row.wijk, "gemeente": row.gemeente,
                "phase": row.phase, "phase_label": d.phase_label(row.phase),
                "phase_index": next((i for i, p in enumerate(d.phases) if p.key == row.phase), 0),
                "days_in_phase": days, "max_days": phase.max_days if phase else None,
                "stalled": bool(phase and phase.max_days and days > phase.max_days),
                "final": bool(phase and phase.final),
                "next_label": d.phase_label(outgoing[0].dest) if outgoing else None,
                "open": [{"key": c.key, "label": c.label} for c in result.unmet] if result else [],
                "gate_size": len(result.criteria) if result else 0,
                "overdue": store.overdue_reminders(conn, row.id, now),
                "leaders": [people[i].name if i in people and people[i].forgotten_at is None
                            else person_name(FORGOTTEN_PERSON, LOCALE) for i in leader_ids],
                "updated": local_iso(row.updated_at, app.tz),
                "themes": themes.get(row.id, []),
            })
    rows.sort(key=lambda r: (r["wijk"].lower(), r["name"].lower()))
    by_phase: dict[str, int] = {}
    for r in sorted(rows, key=lambda r: r["phase_index"]):
        by_phase[r["phase_label"]] = by_phase.get(r["phase_label"], 0) + 1
    # Arnhem's veranderopgaven: which aanpakken contribute to each theme.
    by_theme: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        for label in r["themes"]:
            by_theme.setdefault(label, []).append(r)
    html = render("report_portfolio.html.j2", rows=rows, by_phase=by_phase, chain=head(app),
                  by_theme=dict(sorted(by_theme.items(), key=lambda kv: kv[0].lower())),
                  generated=local_iso(now, app.tz),
                  stalled=sum(1 for r in rows if r["stalled"]), palette=charts.PALETTE)
    return {**_write(app, target, html, force), "what": f"portfolio of {len(rows)} wijkaanpakken"}
