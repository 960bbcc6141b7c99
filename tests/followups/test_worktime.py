"""Calendar arithmetic: pure functions, no database."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from followups.worktime import (
    WorkingHours,
    add_calendar_days,
    add_working_days,
    add_working_minutes,
    next_working_moment,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
OFFICE = WorkingHours(start=time(9), end=time(17), days=frozenset({1, 2, 3, 4, 5}))


def local(tz, *args) -> datetime:
    return datetime(*args, tzinfo=tz)


def test_a_day_later_is_the_same_local_time_across_spring_forward():
    # Berlin moves to summer time on Sunday 29 March 2026: that day has 23 hours.
    start = local(BERLIN, 2026, 3, 28, 10, 0)
    due = add_calendar_days(start, 1, BERLIN)
    assert due.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 3, 29, 10, 0)
    assert due - start == (datetime(2026, 3, 29, 8, tzinfo=UTC) - datetime(2026, 3, 28, 9, tzinfo=UTC))
    assert (due - start).total_seconds() == 23 * 3600


def test_a_day_later_is_the_same_local_time_across_fall_back():
    start = local(BERLIN, 2026, 10, 24, 10, 0)
    due = add_calendar_days(start, 1, BERLIN)
    assert due.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 10, 25, 10, 0)
    assert (due - start).total_seconds() == 25 * 3600


def test_a_local_time_in_the_spring_forward_gap_moves_forward():
    # 02:30 does not exist in New York on 8 March 2026: it becomes 03:30 EDT.
    start = local(NEW_YORK, 2026, 3, 7, 2, 30)
    due = add_calendar_days(start, 1, NEW_YORK)
    assert due == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    assert due.astimezone(NEW_YORK).replace(tzinfo=None) == datetime(2026, 3, 8, 3, 30)


def test_an_ambiguous_local_time_takes_the_first_occurrence():
    # 01:30 happens twice in New York on 1 November 2026; the first is still EDT (UTC-4).
    start = local(NEW_YORK, 2026, 10, 31, 1, 30)
    due = add_calendar_days(start, 1, NEW_YORK)
    assert due == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


def test_working_days_step_over_the_weekend_keeping_the_clock():
    friday = local(BERLIN, 2026, 11, 20, 14, 0)
    assert add_working_days(friday, 1, BERLIN, OFFICE) == local(BERLIN, 2026, 11, 23, 14, 0)
    assert add_working_days(friday, 3, BERLIN, OFFICE) == local(BERLIN, 2026, 11, 25, 14, 0)


def test_working_days_from_outside_working_hours_start_at_the_next_opening():
    friday_evening = local(BERLIN, 2026, 11, 20, 19, 0)
    saturday = local(BERLIN, 2026, 11, 21, 11, 0)
    early_monday = local(BERLIN, 2026, 11, 23, 6, 0)
    assert add_working_days(friday_evening, 0, BERLIN, OFFICE) == local(BERLIN, 2026, 11, 23, 9, 0)
    assert add_working_days(saturday, 1, BERLIN, OFFICE) == local(BERLIN, 2026, 11, 24, 9, 0)
    assert add_working_days(early_monday, 1, BERLIN, OFFICE) == local(BERLIN, 2026, 11, 24, 9, 0)


def test_working_days_across_a_dst_weekend_keep_the_local_clock():
    friday = local(BERLIN, 2026, 3, 27, 10, 0)  # summer time starts on Sunday the 29th
    due = add_working_days(friday, 1, BERLIN, OFFICE)
    assert due.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 3, 30, 10, 0)
    assert due == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)  # CEST, UTC+2 (it was UTC+1 on Friday)


def test_working_minutes_count_only_working_hours():
    # 16:50 on a Friday + 15 working minutes = 10 minutes on Friday, 5 on Monday.
    assert add_working_minutes(local(BERLIN, 2026, 11, 20, 16, 50), 15, BERLIN, OFFICE) == local(
        BERLIN, 2026, 11, 23, 9, 5
    )
    # Inside the day it is plain elapsed time.
    assert add_working_minutes(local(BERLIN, 2026, 11, 23, 10, 0), 15, BERLIN, OFFICE) == local(
        BERLIN, 2026, 11, 23, 10, 15
    )
    # A lead arriving at night starts its clock at the next opening.
    assert add_working_minutes(local(BERLIN, 2026, 11, 24, 3, 0), 15, BERLIN, OFFICE) == local(
        BERLIN, 2026, 11, 24, 9, 15
    )


def test_working_minutes_read_hours_in_the_owners_zone():
    start = datetime(2026, 11, 23, 13, 55, tzinfo=UTC)  # 14:55 in Berlin, 08:55 in New York
    assert add_working_minutes(start, 15, BERLIN, OFFICE) == datetime(2026, 11, 23, 14, 10, tzinfo=UTC)
    assert add_working_minutes(start, 15, NEW_YORK, OFFICE) == datetime(2026, 11, 23, 14, 15, tzinfo=UTC)


def test_next_working_moment_inside_hours_is_now():
    moment = local(BERLIN, 2026, 11, 23, 12, 0)
    assert next_working_moment(moment, BERLIN, OFFICE) == moment


def test_it_refuses_impossible_working_hours():
    with pytest.raises(ValueError):
        WorkingHours(start=time(17), end=time(9), days=frozenset({1}))
    with pytest.raises(ValueError):
        WorkingHours(start=time(9), end=time(17), days=frozenset())
