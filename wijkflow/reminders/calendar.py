"""Working days and durations: when a reminder falls due.

Semantics (also in README):
- Calendar durations (ISO 8601 P14D, P2W, P3M, P1Y) are added to the local date; months
  keep the day of the month, clipped to the month's last day (31 Jan + P1M = 28 Feb).
- 'N werkdagen after X' counts N working days starting the day after X;
  'N werkdagen before D' counts N working days back starting the day before D.
- A working day is not a Saturday or Sunday, not a Dutch public holiday (the `holidays`
  package, which includes Goede Vrijdag and Bevrijdingsdag in lustrum years) and not one of
  the municipality's own closing days (setting `closing_days`).
- A reminder is due at `reminder_hour` (default 09:00) Europe/Amsterdam time on its day;
  a day that is not a working day moves to the next working day unless the setting
  `reminder_shift` is 'none'.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from ..config import Settings
from ..errors import InvalidInput

_ISO = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")
_WERKDAGEN = re.compile(r"^(\d+) werkdagen$")


@dataclass(frozen=True)
class Span:
    """A parsed duration: either calendar parts or a number of working days."""

    years: int = 0
    months: int = 0
    days: int = 0
    werkdagen: int = 0

    @classmethod
    def parse(cls, text: str) -> Span:
        m = _WERKDAGEN.match(text)
        if m:
            return cls(werkdagen=int(m.group(1)))
        m = _ISO.match(text)
        if not m:
            raise InvalidInput(f"'{text}' is not a duration (e.g. P14D, P3M or '5 werkdagen').")
        y, mo, w, d = (int(g) if g else 0 for g in m.groups())
        return cls(years=y, months=mo, days=7 * w + d)

    def times(self, k: int) -> Span:
        return Span(self.years * k, self.months * k, self.days * k, self.werkdagen * k)

    def __str__(self) -> str:
        if self.werkdagen:
            return f"{self.werkdagen} werkdagen"
        return "P" + "".join(f"{n}{u}" for n, u in ((self.years, "Y"), (self.months, "M"), (self.days, "D")) if n)


@dataclass
class WorkCalendar:
    closing_days: frozenset[date] = frozenset()
    shift: bool = True
    hour: int = 9
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Amsterdam"))
    _holidays: Any = None

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkCalendar:
        return cls(closing_days=settings.closing_days, shift=settings.reminder_shift != "none",
                   hour=settings.reminder_hour, tz=settings.zone())

    def holiday_name(self, day: date) -> str | None:
        if self._holidays is None:
            import holidays  # the holidays seam: heavy, and only needed once a date is checked

            self._holidays = holidays.country_holidays("NL", language="nl")
        return self._holidays.get(day)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.closing_days and self.holiday_name(day) is None

    def next_working_day(self, day: date) -> date:
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def add_working_days(self, day: date, n: int) -> date:
        step = 1 if n >= 0 else -1
        left = abs(n)
        while left:
            day += timedelta(days=step)
            if self.is_working_day(day):
                left -= 1
        return day

    def add(self, day: date, span: Span, *, sign: int = 1) -> date:
        if span.werkdagen:
            return self.add_working_days(day, sign * span.werkdagen)
        # relativedelta adds years and months first, clipping to the month's last day, then the days.
        return day + relativedelta(years=sign * span.years, months=sign * span.months, days=sign * span.days)

    def due_at(self, day: date) -> datetime:
        """The moment (aware UTC) a reminder for local `day` goes out; DST-correct."""
        if self.shift:
            day = self.next_working_day(day)
        return datetime.combine(day, time(self.hour), tzinfo=self.tz).astimezone(UTC)

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()
