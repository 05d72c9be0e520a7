"""Indicators (succesindicatoren) and their measurements."""

from __future__ import annotations

import re
from typing import Any

from .. import store
from ..app import App
from ..errors import Conflict, InvalidInput, NotFound
from ..gates import IndicatorFact, reached
from ..reminders import notify
from .common import actor, clean_name, clean_text, load, load_open, parse_date

KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def _number(value: Any, what: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(str(value).replace(",", "."))
    except ValueError:
        raise InvalidInput(f"The {what} '{value}' is not a number.") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise InvalidInput(f"The {what} '{value}' is not a number.")
    return number


def add_indicator(app: App, ref: str, key: str, *, label: str | None = None, unit: str | None = None,
                  baseline: Any = None, target: Any = None, direction: str | None = None,
                  baseline_date: str | None = None, target_date: str | None = None,
                  from_catalogue: bool = False, acting: str | None) -> dict[str, Any]:
    now = app.now()
    with app.db.write() as conn:
        who = actor(conn, acting)
        ctx = load_open(conn, ref, app.definitions)
        ctx.require_any(who, ("projectleider", "coordinator"), "add indicators")
        return add_indicator_in(conn, app, ctx, key, label=label, unit=unit, baseline=baseline, target=target,
                                direction=direction, baseline_date=baseline_date, target_date=target_date,
                                from_catalogue=from_catalogue, who=who, now=now)


def add_indicator_in(conn: Any, app: App, ctx: Any, key: str, *, label: str | None, unit: str | None,
                     baseline: Any, target: Any, direction: str | None, baseline_date: str | None,
                     target_date: str | None, from_catalogue: bool, who: Any, now: Any) -> dict[str, Any]:
    """The body of add_indicator, inside the caller's transaction (also used by `wijkflow import`)."""
    if not KEY_RE.match(key or ""):
        raise InvalidInput(f"'{key}' is not a valid indicator key (lower-case letters, digits and _).")
    if from_catalogue:
        from ..catalogue import from_catalogue as lookup

        entry = lookup(key)
        label = label or entry.label
        unit = entry.unit if unit is None else unit
        direction = direction or entry.direction
    if not label:
        raise InvalidInput(f"Indicator '{key}' needs a --label (or --from-catalogue for a catalogue key).")
    label = clean_name(label, "label")
    unit = clean_text(unit, "unit", max_len=40) or ""
    direction = direction or "higher"
    if direction not in ("higher", "lower"):
        raise InvalidInput("The direction must be 'higher' or 'lower' (which way is better).")
    base, tgt = _number(baseline, "baseline"), _number(target, "target")
    today = now.astimezone(app.tz).date()
    if baseline_date and base is None:
        raise InvalidInput("A baseline date needs a baseline value (--baseline).")
    if target_date and tgt is None:
        raise InvalidInput("A target date needs a target value (--target).")
    base_day = parse_date(baseline_date, "baseline date") if baseline_date else (today if base is not None else None)
    target_day = parse_date(target_date, "target date") if target_date else None
    if base_day is not None and base_day > today:
        raise InvalidInput(f"The baseline date {base_day} lies in the future.")
    if base_day is not None and target_day is not None and target_day <= base_day:
        raise InvalidInput(f"The target date {target_day} must come after the baseline date {base_day}.")
    if base is not None and tgt is not None:
        wrong = tgt <= base if direction == "higher" else tgt >= base
        if wrong:
            side = "above" if direction == "higher" else "below"
            raise InvalidInput(f"The target {tgt:g} must lie {side} the baseline {base:g}, because "
                               f"{direction} is better for '{key}' (use --direction to say otherwise).")
    if store.indicator(conn, ctx.row.id, key) is not None:
        raise Conflict(f"{ctx.row.name} already has an indicator '{key}'.")
    store.insert_indicator(conn, aanpak_id=ctx.row.id, key=key, label=label, unit=unit, direction=direction,
                           baseline=base, baseline_date=base_day, target=tgt, target_date=target_day,
                           created_at=now)
    store.append_event(conn, at=now, type="indicator_added", aanpak_id=ctx.row.id, actor_id=who.id,
                       payload={"key": key, "label": label, "unit": unit, "baseline": base,
                                "baseline_date": base_day.isoformat() if base_day else None,
                                "target": tgt, "target_date": target_day.isoformat() if target_day else None,
                                "direction": direction, "from_catalogue": from_catalogue})
    notify.gate_changed(conn, app, aanpak_id=ctx.row.id, definition=ctx.definition, now=now)
    return {"aanpak": ctx.row.slug, "key": key, "label": label, "unit": unit, "direction": direction,
            "baseline": base, "baseline_date": base_day.isoformat() if base_day else None,
            "target": tgt, "target_date": target_day.isoformat() if target_day else None}


def measure(app: App, ref: str, key: str, value: Any, *, on: str | None = None, source: str | None = None,
            acting: str | None) -> dict[str, Any]:
    number = _number(value, "value")
    if number is None:
        raise InvalidInput("A measurement needs a value.")
    source = clean_text(source, "source", max_len=500) or ""
    now = app.now()
    day = parse_date(on, "measurement date") if on else now.astimezone(app.tz).date()
    if day > now.astimezone(app.tz).date():
        raise InvalidInput(f"The measurement date {day} lies in the future.")
    with app.db.write() as conn:
        who = actor(conn, acting)
        ctx = load_open(conn, ref, app.definitions)
        ctx.require_any(who, ("projectleider", "coordinator"), "record measurements")
        ind = _indicator(conn, ctx, key)
        if ind.baseline_date is not None and day < ind.baseline_date:
            raise InvalidInput(f"The measurement date {day} lies before the baseline of '{key}' "
                               f"({ind.baseline_date}).")
        if any(m.key == key and m.measured_on == day and m.value == number
               for m in store.measurements(conn, ctx.row.id)):
            raise Conflict(f"{ctx.row.name} already has {key} = {number:g} measured on {day}; nothing was "
                           "recorded (a wrong figure is corrected with `wijkflow measure --correct ID`).")
        mid = store.insert_measurement(conn, indicator_id=ind.id, value=number, measured_on=day, source=source,
                                       person_id=who.id, at=now)
        store.append_event(conn, at=now, type="measurement_recorded", aanpak_id=ctx.row.id, actor_id=who.id,
                           payload={"indicator": key, "value": number, "date": day.isoformat(),
                                    "source": source, "measurement_id": mid})
        notify.gate_changed(conn, app, aanpak_id=ctx.row.id, definition=ctx.definition, now=now)
    return {"aanpak": ctx.row.slug, "indicator": key, "value": number, "date": day.isoformat(), "id": mid}


def progress(app: App, ref: str) -> list[dict[str, Any]]:
    """Per indicator: baseline, latest, target, and how far along the way (respecting direction)."""
    today = app.now().astimezone(app.tz).date()
    with app.db.read() as conn:
        ctx = load(conn, ref, app.definitions)
        inds = store.indicator_facts(conn, ctx.row.id)
    out = []
    for i, own in inds:
        latest = own[-1] if own else None
        pct = None
        if latest is not None and i.baseline is not None and i.target is not None and i.target != i.baseline:
            pct = round(100 * (latest.value - i.baseline) / (i.target - i.baseline), 1)
        fact = IndicatorFact(key=i.key, label=i.label, has_baseline=i.baseline is not None,
                             measurements=len(own), direction=i.direction, baseline=i.baseline,
                             target=i.target, latest=latest.value if latest else None)
        if i.target is None:
            status = "no target"
        elif latest is None:
            status = "not measured yet"
        elif reached(fact):
            status = "reached"
        elif i.target_date is not None and today > i.target_date:
            status = "target date passed"
        elif pct is not None and pct < 0:
            status = "moving away"
        else:
            status = "on the way"
        out.append({"key": i.key, "label": i.label, "unit": i.unit, "direction": i.direction,
                    "baseline": i.baseline, "baseline_date": i.baseline_date.isoformat() if i.baseline_date else None,
                    "target": i.target, "target_date": i.target_date.isoformat() if i.target_date else None,
                    "measurements": len(own),
                    "latest": latest.value if latest else None,
                    "latest_date": latest.measured_on.isoformat() if latest else None,
                    "latest_source": latest.source if latest else None,
                    "progress_pct": pct, "reached": reached(fact), "status": status})
    return out


def interpret(app: App, ref: str, *, conclusion: str, indicators: tuple[str, ...] = (),
              acting: str | None) -> dict[str, Any]:
    """Record who judged the figures and what they concluded (scores signal; people interpret)."""
    text = clean_text(conclusion, "conclusion", multiline=True, required=True)
    now = app.now()
    with app.db.write() as conn:
        who = actor(conn, acting)
        ctx = load_open(conn, ref, app.definitions)
        ctx.require_any(who, ("projectleider", "coordinator", "approver"), "interpret its figures")
        known = {i.key for i in store.indicators(conn, ctx.row.id)}
        if not known:
            raise InvalidInput(f"{ctx.row.name} has no indicators yet, so there are no figures to interpret.")
        unknown = [k for k in indicators if k not in known]
        if unknown:
            raise NotFound(f"{ctx.row.name} has no indicator '{unknown[0]}' (known: {', '.join(sorted(known))}).")
        store.insert_interpretation(conn, aanpak_id=ctx.row.id, visit=ctx.row.visit, phase=ctx.row.phase,
                                    person_id=who.id, conclusion=text, indicators=",".join(indicators), at=now)
        store.touch_aanpak(conn, ctx.row.id, now)
        store.append_event(conn, at=now, type="indicators_interpreted", aanpak_id=ctx.row.id, actor_id=who.id,
                           from_phase=ctx.row.phase, reason=text,
                           payload={"indicators": list(indicators), "visit": ctx.row.visit})
        notify.gate_changed(conn, app, aanpak_id=ctx.row.id, definition=ctx.definition, now=now)
    return {"aanpak": ctx.row.slug, "phase": ctx.row.phase, "conclusion": text, "indicators": list(indicators),
            "by": who.email}


def update_indicator(app: App, ref: str, key: str, *, baseline: Any = None, baseline_date: str | None = None,
                     target: Any = None, target_date: str | None = None,
                     acting: str | None) -> dict[str, Any]:
    """Set or correct the nulmeting or streefwaarde of an indicator (e.g. the nulmeting arrives later)."""
    if all(v is None for v in (baseline, baseline_date, target, target_date)):
        raise InvalidInput("Say what changes: --baseline, --baseline-date, --target and/or --target-date.")
    now = app.now()
    today = now.astimezone(app.tz).date()
    with app.db.write() as conn:
        who = actor(conn, acting)
        ctx = load_open(conn, ref, app.definitions)
        ctx.require_any(who, ("projectleider", "coordinator"), "change indicators")
        ind = _indicator(conn, ctx, key)
        base = _number(baseline, "baseline") if baseline is not None else ind.baseline
        tgt = _number(target, "target") if target is not None else ind.target
        base_day = (parse_date(baseline_date, "baseline date") if baseline_date
                    else today if baseline is not None and ind.baseline_date is None else ind.baseline_date)
        target_day = parse_date(target_date, "target date") if target_date else ind.target_date
        if base_day is not None and base is None:
            raise InvalidInput("A baseline date needs a baseline value (--baseline).")
        if target_day is not None and tgt is None:
            raise InvalidInput("A target date needs a target value (--target).")
        if base_day is not None and base_day > today:
            raise InvalidInput(f"The baseline date {base_day} lies in the future.")
        if base_day is not None and target_day is not None and target_day <= base_day:
            raise InvalidInput(f"The target date {target_day} must come after the baseline date {base_day}.")
        if base is not None and tgt is not None and (tgt <= base if ind.direction == "higher" else tgt >= base):
            side = "above" if ind.direction == "higher" else "below"
            raise InvalidInput(f"The target {tgt:g} must lie {side} the baseline {base:g}, because "
                               f"{ind.direction} is better for '{key}'.")
        first = next((m for m in store.measurements(conn, ctx.row.id) if m.key == key), None)
        if first is not None and base_day is not None and first.measured_on < base_day:
            raise InvalidInput(f"The baseline date {base_day} lies after the measurement of {first.measured_on}.")
        before = {"baseline": ind.baseline, "baseline_date": _iso(ind.baseline_date), "target": ind.target,
                  "target_date": _iso(ind.target_date)}
        after = {"baseline": base, "baseline_date": _iso(base_day), "target": tgt, "target_date": _iso(target_day)}
        store.update_indicator(conn, ind.id, baseline=base, baseline_date=base_day, target=tgt,
                               target_date=target_day)
        store.touch_aanpak(conn, ctx.row.id, now)
        store.append_event(conn, at=now, type="indicator_updated", aanpak_id=ctx.row.id, actor_id=who.id,
                           payload={"key": key, "before": before, "after": after})
        notify.gate_changed(conn, app, aanpak_id=ctx.row.id, definition=ctx.definition, now=now)
    return {"aanpak": ctx.row.slug, "key": key, **after}


def _iso(day: Any) -> str | None:
    return day.isoformat() if day else None


def _indicator(conn: Any, ctx: Any, key: str) -> Any:
    ind = store.indicator(conn, ctx.row.id, key)
    if ind is None:
        known = ", ".join(i.key for i in store.indicators(conn, ctx.row.id)) or "none yet"
        raise NotFound(f"{ctx.row.name} has no indicator '{key}' (known: {known}).")
    return ind
