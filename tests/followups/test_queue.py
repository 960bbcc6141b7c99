"""The rep's queue (leads.selectors.lead_list_needing_attention): speed-to-lead breaches and overdue
follow-ups at the top, SLA countdowns, "no next step" flags and temperatures, fixed query count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from followups import services
from followups.models import FollowUp, FollowUpPolicy, Kind
from followups.selectors import lead_temperature
from leads import services as lead_services
from leads.models import Activity, Lead
from leads.selectors import LeadFilters, lead_list_needing_attention
from tests.factories import make_lead

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # a Tuesday, noon UTC (the personas' zone)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def lead_at(rep, team, source, name, *, received_ago, contacted_ago=None) -> Lead:
    lead = make_lead(owner=rep, team=team, source=source, name=name, received_at=NOW - received_ago)
    if contacted_ago is not None:
        lead_services.activity_log(
            lead=lead, by=rep, kind=Activity.Kind.CALL, outcome="call", occurred_at=NOW - contacted_ago
        )
    return lead


def followup(lead, due_in: timedelta) -> FollowUp:
    row = FollowUp.objects.create(lead=lead, owner=lead.owner, due_at=NOW + due_in, kind=Kind.CALL, instruction="x")
    services.followups_refresh_next(lead_ids=[lead.pk])
    return row


def test_breaches_then_fresh_leads_then_overdue_followups_then_the_rest(rep, team, source, policy):
    quiet = lead_at(rep, team, source, "quiet", received_ago=timedelta(days=9), contacted_ago=timedelta(days=8))
    followup(quiet, timedelta(days=2))
    stale = lead_at(rep, team, source, "stale", received_ago=timedelta(days=9), contacted_ago=timedelta(days=9))
    followup(stale, timedelta(days=1))
    overdue_old = lead_at(
        rep, team, source, "overdue 2d", received_ago=timedelta(days=5), contacted_ago=timedelta(days=5)
    )
    followup(overdue_old, -timedelta(days=2))
    overdue_new = lead_at(
        rep, team, source, "overdue 1h", received_ago=timedelta(days=5), contacted_ago=timedelta(days=4)
    )
    followup(overdue_new, -timedelta(hours=1))
    fresh = lead_at(rep, team, source, "fresh", received_ago=timedelta(minutes=5))
    fresher = lead_at(rep, team, source, "fresher", received_ago=timedelta(minutes=1))
    breached_long = lead_at(rep, team, source, "breached long", received_ago=timedelta(hours=3))
    breached = lead_at(rep, team, source, "breached", received_ago=timedelta(minutes=20))

    order = list(lead_list_needing_attention(user=rep, filters=LeadFilters()))

    assert order == [breached_long, breached, fresh, fresher, overdue_old, overdue_new, stale, quiet]


def test_the_queue_shows_sla_countdowns_flags_and_temperatures(client, rep, team, source, policy):
    fresh = lead_at(rep, team, source, "Fresh Fay", received_ago=timedelta(minutes=5))
    lead_at(rep, team, source, "Late Lou", received_ago=timedelta(hours=2))
    cold = lead_at(rep, team, source, "Cold Cam", received_ago=timedelta(days=40), contacted_ago=timedelta(days=30))
    client.force_login(rep)
    html = client.get(reverse("leads:queue")).content.decode()

    assert html.count("sla-running") == 1 and html.count("sla-breached") == 1
    assert f'data-countdown="{fresh.sla.owner_due_at.isoformat()}"' in html
    assert html.count("No next step") == 3  # nobody configured a cadence here
    assert "temperature-hot" in html and "temperature-cold" in html
    assert cold.name in html


@pytest.mark.parametrize("n", [5, 50])
def test_the_queue_runs_a_fixed_number_of_queries(client, rep, team, source, cadences, n, django_assert_num_queries):
    for i in range(n):
        lead_at(
            rep,
            team,
            source,
            f"L{i}",
            received_ago=timedelta(hours=i),
            contacted_ago=None if i % 2 else timedelta(hours=i),
        )
    client.force_login(rep)
    # session, user, permissions with role names, sources (filter form), stage counts, the page of
    # leads (source, owner and SLA clock joined), and ours: the bell with the policy for temperatures
    with django_assert_num_queries(8):
        response = client.get(reverse("leads:queue"))
    assert len(response.context["leads"]) == min(n, 25)


@pytest.mark.parametrize(
    "touched_ago,overdue_by,expected",
    [
        (timedelta(hours=2), None, "hot"),
        (timedelta(hours=2), timedelta(hours=2), "hot"),  # just due: not a missed promise yet
        (timedelta(hours=30), None, "warm"),
        (timedelta(hours=30), timedelta(hours=25), "cooling"),  # a follow-up well overdue
        (timedelta(days=4), None, "cooling"),
        (timedelta(days=15), None, "cold"),
    ],
)
def test_temperature_follows_the_last_touch_and_missed_followups(touched_ago, overdue_by, expected):
    lead = Lead(received_at=NOW - timedelta(days=60), last_touched_at=NOW - touched_ago)
    lead.next_followup_at = NOW - overdue_by if overdue_by else None
    assert lead_temperature(lead=lead, policy=FollowUpPolicy(), now=NOW) == expected


def test_a_manager_sees_the_no_next_step_flag_on_the_team_leads(client, manager, rep, team, source, policy):
    lead_at(rep, team, source, "Nobody Plans", received_ago=timedelta(days=2), contacted_ago=timedelta(days=1))
    client.force_login(manager)
    html = client.get(reverse("leads:queue")).content.decode()
    assert "Nobody Plans" in html and "No next step" in html
