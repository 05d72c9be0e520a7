"""Geometry for the report's inline SVG charts. Numbers only: the templates draw (and escape) them.

Kept apart from the data collection so the drawing can be tested without a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..templating import long_date, month_label, number

LOCALE = "nl"  # the reports are Dutch: month names and numbers as Babel writes them for nl
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#edc948", "#76b7b2", "#9c755f", "#e15759")


@dataclass
class Timeline:
    width: int
    height: int
    left: int
    lanes: list[dict[str, Any]] = field(default_factory=list)
    bars: list[dict[str, Any]] = field(default_factory=list)
    ticks: list[dict[str, Any]] = field(default_factory=list)
    now_x: float | None = None


# The few words the drawings carry themselves (the web pages draw them for English readers too).
WORDS = {"nl": {"now": "nu", "days": "dagen"}, "en": {"now": "now", "days": "days"}}


def timeline(phases: list[tuple[str, str]], stays: list[dict[str, Any]], end: datetime, tz: Any,
             *, width: int = 900, lane: int = 26, left: int = 230, locale: str = LOCALE) -> Timeline:
    """A swimlane per phase; one bar per stay, so loops back (bijsturen) show as a second bar.

    phases: (key, label) in definition order; stays: {"phase", "since", "until" (None = still)}.
    """
    top = 8
    keys = [k for k, _ in phases]
    t = Timeline(width=width, height=top + lane * len(phases) + 30, left=left)
    for i, (key, label) in enumerate(phases):
        t.lanes.append({"key": key, "label": label, "y": top + i * lane, "h": lane,
                        "color": PALETTE[i % len(PALETTE)]})
    if not stays:
        return t
    start = min(s["since"] for s in stays)
    stop = max(end, *(s["until"] for s in stays if s["until"]), start + timedelta(days=1))
    span = (stop - start).total_seconds()
    plot = width - left - 10

    def x(moment: datetime) -> float:
        return round(left + plot * (moment - start).total_seconds() / span, 1)

    for s in stays:
        if s["phase"] not in keys:
            continue
        i = keys.index(s["phase"])
        x0, x1 = x(s["since"]), x(s["until"] or end)
        days = (((s["until"] or end) - s["since"]) / timedelta(days=1))
        t.bars.append({"x": x0, "y": top + i * lane + 4, "w": max(x1 - x0, 2.0), "h": lane - 8,
                       "color": PALETTE[i % len(PALETTE)], "days": round(days), "open": s["until"] is None,
                       "title": f"{t.lanes[i]['label']}: {long_date(s['since'].astimezone(tz).date(), locale)} – "
                                + (long_date(s["until"].astimezone(tz).date(), locale) if s["until"]
                                   else WORDS[locale]["now"])
                                + f" ({round(days)} {WORDS[locale]['days']})"})
    months = max(1, int(span / 86400 / 30 / 12) + 1)  # one tick per month, fewer on long spans
    step = 1 if months <= 1 else 3 if months <= 3 else 6
    local = start.astimezone(tz)
    day = date(local.year, local.month, 1)
    while True:
        moment = datetime(day.year, day.month, 1, tzinfo=tz).astimezone(UTC)
        if moment > stop:
            break
        if moment >= start and (day.month - 1) % step == 0:
            label = month_label(day, locale) + (f" {day.year}" if day.month == 1 or not t.ticks else "")
            t.ticks.append({"x": x(moment), "label": label})
        day = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    t.now_x = x(end)
    return t


@dataclass
class Chart:
    width: int
    height: int
    points: list[dict[str, Any]] = field(default_factory=list)
    baseline_y: float | None = None
    target_y: float | None = None
    y_labels: list[dict[str, Any]] = field(default_factory=list)
    x_labels: list[dict[str, Any]] = field(default_factory=list)

    @property
    def polyline(self) -> str:
        return " ".join(f"{p['x']},{p['y']}" for p in self.points)


def indicator_chart(baseline: float | None, target: float | None, measurements: list[tuple[date, float]],
                    *, start: date | None = None, width: int = 360, height: int = 150,
                    locale: str = LOCALE) -> Chart:
    """Baseline and target as dashed lines, measurements as a line with dots."""
    c = Chart(width=width, height=height)
    values = [v for _, v in measurements] + [v for v in (baseline, target) if v is not None]
    if not values:
        return c
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.15 or abs(hi) * 0.1 or 1.0
    lo, hi = lo - pad, hi + pad
    left, right, top, bottom = 44, 12, 10, 24
    plot_w, plot_h = width - left - right, height - top - bottom

    def y(v: float) -> float:
        return round(top + plot_h * (hi - v) / (hi - lo), 1)

    days = [d for d, _ in measurements] + ([start] if start else [])
    first, last = (min(days), max(days)) if days else (None, None)
    span = max(((last - first).days if first and last else 0), 1)

    def x(d: date) -> float:
        if first is None:
            return left + plot_w / 2
        return round(left + plot_w * (d - first).days / span, 1) if len(set(days)) > 1 else left + plot_w / 2

    c.baseline_y = y(baseline) if baseline is not None else None
    c.target_y = y(target) if target is not None else None
    lines = [ly for ly in (c.baseline_y, c.target_y) if ly is not None]
    for d, v in measurements:
        py = y(v)
        # The value sits above its dot, or below it where a dashed line (or the top) would run through it.
        above = py - 7
        label_y = py + 15 if above < 10 or any(abs(above - 3 - ly) < 8 for ly in lines) else above
        c.points.append({"x": x(d), "y": py, "label_y": round(label_y, 1), "value": number(v, locale),
                         "date": d.isoformat()})
    # Baseline and target first, then the extremes where they do not collide (12 px apart).
    for v in [v for v in (baseline, target) if v is not None] + [lo + pad, hi - pad]:
        if all(abs(y(v) - other["y"]) >= 12 for other in c.y_labels):
            c.y_labels.append({"y": y(v), "label": number(round(v, 6), locale)})
    if first is not None and last is not None:
        c.x_labels.append({"x": x(first), "label": first.isoformat(), "anchor": "start"})
        if last != first:
            c.x_labels.append({"x": x(last), "label": last.isoformat(), "anchor": "end"})
    return c
