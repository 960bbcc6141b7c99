"""Calendar arithmetic for cadences and the speed-to-lead SLA. Pure functions: no database.

Instants are aware datetimes (stored in UTC); "local" means the owner's zone. The rules
(ENGINEERING.md, "Times"):

- "N days later" is the same local wall-clock time N calendar days later. A local time that does
  not exist (spring-forward gap) moves forward by the gap; an ambiguous one (fall-back) takes the
  first occurrence. zoneinfo does exactly that for `fold=0`.
- "N working days later" first moves the start into working time (the next opening if it is
  outside working hours or on a day off), then steps over N working days, keeping the wall clock.
- Working minutes are elapsed time counted only inside working hours, per local day, so a DST
  change inside a working day is measured in real minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

# A bound on how far the walks below may go looking for working time (a whole year of days off
# is a configuration error, not a reason to loop for ever).
MAX_DAYS_SEARCHED = 366


@dataclass(frozen=True)
class WorkingHours:
    start: time
    end: time
    # ISO weekdays: Monday is 1, Sunday is 7.
    days: frozenset[int]

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValueError("working hours must end after they start")
        if not self.days or not self.days <= set(range(1, 8)):
            raise ValueError("working days must be ISO weekdays 1..7, at least one")

    def is_working_day(self, day: date) -> bool:
        return day.isoweekday() in self.days


def to_local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The instant of a local wall-clock time: gaps move forward, ambiguous times take the first."""
    naive = datetime.combine(day, at)
    aware = naive.replace(tzinfo=tz, fold=0)
    # A time in the spring-forward gap does not round-trip; zoneinfo read it with the offset from
    # before the change, which lands the instant after the gap, i.e. moved forward.
    return aware.astimezone(UTC)


def add_calendar_days(start: datetime, days: int, tz: ZoneInfo) -> datetime:
    """The same local wall-clock time `days` calendar days after `start`."""
    local = start.astimezone(tz)
    target = local.date() + timedelta(days=days)
    return to_local_instant(target, local.time().replace(tzinfo=None), tz)


def _next_working_day(day: date, hours: WorkingHours) -> date:
    for _ in range(MAX_DAYS_SEARCHED):
        day += timedelta(days=1)
        if hours.is_working_day(day):
            return day
    raise ValueError("no working day within a year")


def _day_bounds(day: date, hours: WorkingHours, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return to_local_instant(day, hours.start, tz), to_local_instant(day, hours.end, tz)


def next_working_moment(start: datetime, tz: ZoneInfo, hours: WorkingHours) -> datetime:
    """`start` if it is inside working hours, else the next opening time."""
    local = start.astimezone(tz)
    day = local.date()
    if hours.is_working_day(day):
        opens, closes = _day_bounds(day, hours, tz)
        if start < opens:
            return opens
        if start < closes:
            return start
    return _day_bounds(_next_working_day(day, hours), hours, tz)[0]


def add_working_days(start: datetime, days: int, tz: ZoneInfo, hours: WorkingHours) -> datetime:
    """`days` working days after `start` (first moved into working time), same local clock time."""
    begin = next_working_moment(start, tz, hours)
    local = begin.astimezone(tz)
    day = local.date()
    for _ in range(days):
        day = _next_working_day(day, hours)
    return to_local_instant(day, local.time().replace(tzinfo=None), tz)


def add_working_minutes(start: datetime, minutes: int, tz: ZoneInfo, hours: WorkingHours) -> datetime:
    """The instant when `minutes` of working time have passed since `start`.

    Walks the working intervals day by day: what remains of today's, then each next working day's
    whole interval, measured as real elapsed time between instants (so DST is counted right).
    """
    remaining = timedelta(minutes=minutes)
    cursor = next_working_moment(start, tz, hours)
    for _ in range(MAX_DAYS_SEARCHED * 2):
        _opens, closes = _day_bounds(cursor.astimezone(tz).date(), hours, tz)
        available = closes - cursor
        if remaining <= available:
            return cursor + remaining
        remaining -= available
        cursor = next_working_moment(closes, tz, hours)
    raise ValueError("working minutes do not fit within two years")


def day_and_time(value: datetime, tz: ZoneInfo | None = None, *, year: bool = False) -> str:
    """The one way a moment reads on pages, reminders and messages: "Mon 3 Nov, 14:05" (the
    template filter `date:"D j M, H:i"`), with `year` "Mon 3 Nov 2025, 14:05" (`date:"D j M Y,
    H:i"`), in `tz` or the active zone. Without the template date parser: lists format a few
    per row."""
    from django.utils import timezone, translation

    local = timezone.localtime(value, tz)
    weekdays, months = _day_month_names(translation.get_language())
    day = f"{weekdays[local.weekday()]} {local.day} {months[local.month]}"
    return f"{day} {local.year:04d}, {local:%H:%M}" if year else f"{day}, {local:%H:%M}"


@lru_cache(maxsize=16)
def _day_month_names(language: str | None) -> tuple[dict[int, str], dict[int, str]]:
    """The short day and month names in `language`, translated once (each lazy name translated on
    every use was most of day_and_time's time)."""
    from django.utils.dates import MONTHS_3, WEEKDAYS_ABBR

    return {i: str(d) for i, d in WEEKDAYS_ABBR.items()}, {i: str(m).title() for i, m in MONTHS_3.items()}
