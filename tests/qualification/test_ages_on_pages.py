"""How ages read on the pages: never “0 minutes ago”."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from leads.templatetags.leads_extras import ago, overdue, short_ago
from tests.factories import FAILING_ANSWERS, make_call
from tests.qualification.test_views_call import url


@pytest.mark.parametrize(
    ("seconds", "long", "short"),
    [
        (0, "just now", "just now"),
        (59, "just now", "just now"),
        (60, "1\xa0minute ago", "1 min ago"),
        (3 * 3600 + 5, "3\xa0hours ago", "3 h ago"),
        (2 * 86400, "2\xa0days ago", "2 d ago"),
    ],
)
def test_ages_under_a_minute_read_just_now(seconds, long, short):
    when = timezone.now() - timedelta(seconds=seconds)
    assert (ago(when), short_ago(when)) == (long, short)


def test_empty_ages_are_blank():
    assert ago(None) == short_ago(None) == overdue(None) == ""


@pytest.mark.parametrize(
    ("seconds", "long", "short"),
    [(5, "due now", "due now"), (3 * 3600 + 5, "overdue 3\xa0hours", "overdue 3 h")],
)
def test_a_follow_up_that_just_fell_due_is_due_now_not_overdue_0_minutes(seconds, long, short):
    when = timezone.now() - timedelta(seconds=seconds)
    assert (overdue(when), overdue(when, True)) == (long, short)


def test_a_call_held_a_moment_ago_is_shown_as_just_now(client, lead, rep, criteria):
    make_call(lead=lead, held_at=timezone.now(), **FAILING_ANSWERS)
    client.force_login(rep)

    html = client.get(url(lead)).content.decode() + client.get(lead.get_absolute_url()).content.decode()

    assert "Last call: just now" in html
    assert "Latest call just now" in html
    assert "0\xa0minutes" not in html
