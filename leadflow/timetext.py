"""Django's timesince / timeuntil text, each whole minute's text built once.

Lists show one of these per row (the queue's speed-to-lead badges, a lead's follow-ups), and
Django builds each from lazily translated strings: ~10 µs a call, a tenth of a queue row's
time. Under four weeks the text depends only on the whole minutes between the two times, as
timesince measures them (the wall clock in the first time's zone: it ignores seconds, and its
calendar months cannot start in less than 28 days), so that text is read from a cache filled
by Django's own function; longer spans and naive times go to Django every time. Same text in
every case (tests/test_timetext.py compares them).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

from django.utils.timesince import timesince, timeuntil

CACHED_SPAN = timedelta(days=28)
_ORIGIN = datetime(2001, 1, 1, tzinfo=UTC)


@cache  # at most 28 × 24 × 60 entries
def _minutes_text(minutes: int) -> str:
    return timesince(_ORIGIN, _ORIGIN + timedelta(minutes=minutes))


def since_text(d: datetime, now: datetime) -> str:
    """timesince(d, now): "3 hours, 5 minutes"."""
    if d.tzinfo is None or now.tzinfo is None:
        return timesince(d, now)
    delta = now.astimezone(d.tzinfo) - d
    if delta >= CACHED_SPAN:
        return timesince(d, now)
    return _minutes_text(max(0, int(delta.total_seconds()) // 60))


def until_text(d: datetime, now: datetime) -> str:
    """timeuntil(d, now): "2 days, 4 hours"."""
    if d.tzinfo is None or now.tzinfo is None:
        return timeuntil(d, now)
    delta = d - now.astimezone(d.tzinfo)
    if delta >= CACHED_SPAN:
        return timeuntil(d, now)
    return _minutes_text(max(0, int(delta.total_seconds()) // 60))
