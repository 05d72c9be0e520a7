"""Indicators (succesindicatoren) and their measurements."""

from __future__ import annotations

import re
from typing import Any

from .. import store
from ..app import App
from ..errors import Conflict, InvalidInput, NotFound
from .common import actor, clean_name, clean_text, load, parse_date

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


def add_indicator(app: App, ref: str, key: str, *, label: str, unit: str | None = None,
                  baseline: Any = None, target: Any = None, direction: str = "higher",
                  acting: str | None) -> dict[str, Any]:
    if not KEY_RE.match(key or ""):
        raise InvalidInput(f"'{key}' is not a valid indicator key (lower-case letters, digits and _).")
    label = clean_name(label, "label")
    unit = clean_text(unit, "unit", max_len=40) or ""
    if direction not in ("higher", "lower"):
        raise InvalidInput("The direction must be 'higher' or 'lower' (which way is better).")
    base, tgt = _number(baseline, "baseline"), _number(target, "target")
    now = app.now()
    today = now.astimezone(app.tz).date()
    with app.db.write() as conn:
        who = actor(conn, acting)
        ctx = load(conn, ref)
        if not ({who.id} & (ctx.holders("projectleider") | ctx.holders("coordinator"))):
            ctx.require_role(who, "projectleider", "add indicators")
        if store.indicator(conn, ctx.row.id, key) is not None:
            raise Conflict(f"{ctx.row.name} already has an indicator '{key}'.")
        store.insert_indicator(conn, aanpak_id=ctx.row.id, key=key, label=label, unit=unit, direction=direction,
                               baseline=base, baseline_date=today if base is not None else None,
                               target=tgt, created_at=now)
        store.append_event(conn, at=now, type="indicator_added", aanpak_id=ctx.row.id, actor_id=who.id,
                           payload={"key": key, "label": label, "unit": unit, "baseline": base,
                                    "target": tgt, "direction": direction})
    return {"aanpak": ctx.row.slug, "key": key, "label": label, "baseline": base, "target": tgt}


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
        ctx = load(conn, ref)
        if not ({who.id} & (ctx.holders("projectleider") | ctx.holders("coordinator"))):
            ctx.require_role(who, "projectleider", "record measurements")
        ind = store.indicator(conn, ctx.row.id, key)
        if ind is None:
            known = ", ".join(i.key for i in store.indicators(conn, ctx.row.id)) or "none yet"
            raise NotFound(f"{ctx.row.name} has no indicator '{key}' (known: {known}).")
        if ind.baseline_date is not None and day < ind.baseline_date:
            raise InvalidInput(f"The measurement date {day} lies before the baseline of '{key}' "
                               f"({ind.baseline_date}).")
        store.insert_measurement(conn, indicator_id=ind.id, value=number, measured_on=day, source=source,
                                 person_id=who.id, at=now)
        store.append_event(conn, at=now, type="measurement_recorded", aanpak_id=ctx.row.id, actor_id=who.id,
                           payload={"indicator": key, "value": number, "date": day.isoformat(),
                                    "source": source})
    return {"aanpak": ctx.row.slug, "indicator": key, "value": number, "date": day.isoformat()}


def progress(app: App, ref: str) -> list[dict[str, Any]]:
    with app.db.read() as conn:
        ctx = load(conn, ref)
        inds = store.indicators(conn, ctx.row.id)
        ms = store.measurements(conn, ctx.row.id)
    out = []
    for i in inds:
        own = [m for m in ms if m.key == i.key]
        latest = own[-1] if own else None
        pct = None
        if latest is not None and i.baseline is not None and i.target is not None and i.target != i.baseline:
            pct = round(100 * (latest.value - i.baseline) / (i.target - i.baseline), 1)
        out.append({"key": i.key, "label": i.label, "unit": i.unit, "direction": i.direction,
                    "baseline": i.baseline, "target": i.target, "measurements": len(own),
                    "latest": latest.value if latest else None,
                    "latest_date": latest.measured_on.isoformat() if latest else None,
                    "progress_pct": pct})
    return out
