"""What a gate is decided on: plain, frozen facts about one aanpak in its current phase.

Read from the database by `gates.load.load_facts`; built by hand in tests and for a past
moment by the as-of view. Nothing here reads the clock or the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

# Days in phase (and `min_days`) are calendar days here, whatever the clocks do around daylight saving.
CALENDAR_TZ = ZoneInfo("Europe/Amsterdam")


def calendar_days(since: datetime, now: datetime, tz: ZoneInfo = CALENDAR_TZ) -> int:
    """Whole calendar days from the day of `since` to the day of `now`, both as dates in `tz`."""
    return (now.astimezone(tz).date() - since.astimezone(tz).date()).days


def calendar_day_after(since: datetime, days: int, tz: ZoneInfo = CALENDAR_TZ) -> date:
    """The day `days` calendar days after the day of `since` (in `tz`)."""
    return since.astimezone(tz).date() + timedelta(days=days)


@dataclass(frozen=True)
class Record:
    """A deliverable completed or an approval given during the current visit of the phase."""

    criterion: str
    action: str  # completed | approved
    person_id: int | None
    at: datetime
    evidence: str | None = None
    comment: str | None = None


@dataclass(frozen=True)
class IndicatorFact:
    key: str
    label: str
    has_baseline: bool
    measurements: int
    # For targets: the figures themselves, and when the latest one was recorded.
    direction: str = "higher"
    baseline: float | None = None
    target: float | None = None
    latest: float | None = None
    latest_recorded_at: datetime | None = None
    # Measurements recorded since the aanpak entered its current phase.
    recent: int = 0


@dataclass(frozen=True)
class InterpretationFact:
    person_id: int | None
    conclusion: str
    at: datetime


@dataclass(frozen=True)
class ActivityFact:
    number: int
    partner: str
    year: int
    status: str


@dataclass(frozen=True)
class PartyFact:
    criterion: str
    party: str
    person_id: int | None
    at: datetime
    evidence: str | None = None


@dataclass(frozen=True)
class ProgrammeFacts:
    """Plans, themes, interpretations and party sign-offs: what the programme criteria look at."""

    interpretations: tuple[InterpretationFact, ...] = ()  # this visit of the phase, oldest first
    strengths: int = 0
    bottlenecks: int = 0
    partners: tuple[str, ...] = ()  # named on any agenda criterion of the definition or on the aanpak
    activities: tuple[ActivityFact, ...] = ()
    themes: dict[str, int] = field(default_factory=dict)  # theme label -> number of intended results
    parties: tuple[PartyFact, ...] = ()  # this visit of the phase


@dataclass(frozen=True)
class Facts:
    phase: str
    phase_since: datetime
    records: tuple[Record, ...] = ()
    indicators: tuple[IndicatorFact, ...] = ()
    # Only read when a gate out of the phase has a programme criterion (PROGRAMME_KINDS).
    programme: ProgrammeFacts | None = None

    def latest(self, criterion: str, action: str) -> Record | None:
        found = None
        for r in self.records:
            if r.criterion == criterion and r.action == action:
                found = r
        return found


OPEN_STATUSES = ("planned", "running")


def reached(i: IndicatorFact) -> bool:
    """Has the latest measurement reached the target, in the direction that counts as better?"""
    if i.latest is None or i.target is None:
        return False
    return i.latest >= i.target if i.direction == "higher" else i.latest <= i.target
