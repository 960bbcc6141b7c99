"""Pages run a fixed number of SQL queries whatever the data size."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from leads.models import Activity, Lead, StageChange


def _bulk_leads(n, *, owner, team, source):
    now = timezone.now()
    Lead.objects.bulk_create(
        Lead(
            name=f"Bulk {i}",
            email=f"bulk{i}@example.com",
            source=source,
            team=team,
            owner=owner,
            received_at=now - timedelta(hours=i),
            stage_changed_at=now,
            first_contacted_at=None if i % 2 else now - timedelta(minutes=i),
            last_touched_at=None if i % 2 else now - timedelta(minutes=i),
        )
        for i in range(n)
    )


def _bulk_history(n, *, lead, by):
    at = lead.received_at
    Activity.objects.bulk_create(
        Activity(lead=lead, kind="call", outcome=f"Call {i}", occurred_at=at + timedelta(minutes=i), created_by=by)
        for i in range(n)
    )
    StageChange.objects.bulk_create(
        StageChange(lead=lead, from_stage="lead", to_stage="nurture", changed_at=at, changed_by=by) for _ in range(n)
    )


# Session, user, the user's permissions (2), then the page's own queries (counts, page, unsent
# helpful closes, …).
QUEUE_QUERIES_REP = 11  # + the bell and the follow-up policy
QUEUE_QUERIES_MANAGER = 13  # + the owner filter's choices, + validating the chosen source


@pytest.mark.parametrize("n", [5, 500])
def test_the_rep_queue_runs_a_fixed_number_of_queries(client, rep, team, source, django_assert_num_queries, n):
    _bulk_leads(n, owner=rep, team=team, source=source)
    client.force_login(rep)
    with django_assert_num_queries(QUEUE_QUERIES_REP):
        response = client.get(reverse("leads:queue"))
    assert len(response.context["leads"]) == min(n, 25)


@pytest.mark.parametrize("n", [5, 500])
def test_the_manager_queue_runs_a_fixed_number_of_queries(
    client, manager, rep, team, source, django_assert_num_queries, n
):
    _bulk_leads(n, owner=rep, team=team, source=source)
    client.force_login(manager)
    with django_assert_num_queries(QUEUE_QUERIES_MANAGER):
        response = client.get(reverse("leads:queue"), {"q": "Bulk", "source": source.pk, "stage": "all"})
    assert response.context["page"].paginator.count == n


# + the qualification panel: current criteria with rules, calls, reasons, helpful closes, referrals.
DETAIL_QUERIES = 19  # + the follow-ups panel and the bell


@pytest.mark.parametrize("n", [5, 500])
def test_the_lead_page_runs_a_fixed_number_of_queries(client, rep, lead, django_assert_num_queries, n):
    _bulk_history(n, lead=lead, by=rep)
    client.force_login(rep)
    with django_assert_num_queries(DETAIL_QUERIES):
        response = client.get(reverse("leads:detail", args=[lead.pk]))
    assert len(response.context["timeline"]) == 2 * n + 2  # + creation and first assignment
