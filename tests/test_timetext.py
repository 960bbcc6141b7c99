"""leadflow.timetext gives Django's timesince / timeuntil text, from its cache or not."""

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.utils.timesince import timesince, timeuntil

from leadflow.timetext import _minutes_text, since_text, until_text

ZONES = [UTC, ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")]
# Around the spring and autumn clock changes, where timesince's wall-clock difference is not the
# elapsed time, and across month ends (its calendar months).
ANCHORS = [
    datetime(2026, 3, 29, 0, 30, tzinfo=UTC),
    datetime(2026, 10, 25, 0, 59, 59, 999_999, tzinfo=UTC),
    datetime(2026, 3, 8, 6, 0, tzinfo=UTC),
    datetime(2026, 1, 31, 23, 0, tzinfo=UTC),
    datetime(2026, 2, 28, 12, 0, 30, tzinfo=UTC),
    datetime(2024, 2, 29, 9, 15, tzinfo=UTC),
]


def _spans(rng: random.Random) -> list[timedelta]:
    fixed = [timedelta(0), timedelta(seconds=59, microseconds=999_999), timedelta(minutes=1), timedelta(hours=1)]
    fixed += [timedelta(days=27, hours=23, minutes=59, seconds=59), timedelta(days=28), timedelta(days=400)]
    fixed += [-s for s in fixed]
    randoms = [
        timedelta(seconds=rng.randrange(-60 * 86400, 60 * 86400), microseconds=rng.randrange(10**6)) for _ in range(300)
    ]
    return fixed + randoms


def test_same_text_as_django():
    rng = random.Random(7)
    checked = 0
    for anchor in ANCHORS:
        for span in _spans(rng):
            for dz in ZONES:
                d = (anchor + span).astimezone(dz)
                now = anchor.astimezone(rng.choice(ZONES))
                assert since_text(d, now) == timesince(d, now), (d, now)
                assert until_text(d, now) == timeuntil(d, now), (d, now)
                checked += 1
    assert checked > 5000
    assert _minutes_text.cache_info().hits > 0  # the cache was used, not only Django


def test_naive_times_go_to_django():
    d, now = datetime(2026, 5, 1, 8, 0), datetime(2026, 5, 3, 9, 30)
    assert since_text(d, now) == timesince(d, now) == "2\xa0days, 1\xa0hour"
    assert until_text(now, d) == timeuntil(now, d) == "2\xa0days, 1\xa0hour"


@pytest.mark.parametrize("value", [None, ""])
def test_until_filter_says_nothing_for_no_time(value):
    assert Template("{% load followups_extras %}[{{ v|until }}]").render(Context({"v": value})) == "[]"


def test_until_filter_matches_djangos():
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    due = now + timedelta(days=2, hours=3, minutes=4)
    ours = Template("{% load followups_extras %}{{ due|until:now }}").render(Context({"due": due, "now": now}))
    django = Template("{{ due|timeuntil:now }}").render(Context({"due": due, "now": now}))
    assert ours == django == "2\xa0days, 3\xa0hours"
