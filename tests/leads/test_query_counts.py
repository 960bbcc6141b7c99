"""Pages run a fixed number of SQL queries whatever the data size."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from leads import selectors
from leads.models import Activity, Lead, StageChange
from qualification.models import DisqualificationReason, HelpfulClose
from tests.factories import make_call, make_criteria, make_lead


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


# Session, user, the user's permissions with their role names (accounts.backends), the stage
# counts, the page of leads, the source filter's choices (also used to validate a chosen
# source), the unsent helpful closes, the bell with the follow-up policy (temperature badges).
QUEUE_QUERIES_REP = 8
# + the owner filter's choices (also validating a chosen owner), + the manager's team ids
# (leads.selectors.leads_visible_for_lists), so the list can be read from an index.
QUEUE_QUERIES_MANAGER = 10
QUEUE_QUERIES_ADMIN = 9  # + the owner filter's choices


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


@pytest.mark.parametrize("n", [5, 60])
@pytest.mark.parametrize(
    "params",
    [{}, {"stage": "lead"}, {"stage": "all", "page": "2"}, {"q": "bulk 1"}, {"q": "bulk"}, {"stage": "open"}],
    ids=["queue", "stage-tab", "next-page", "search-rare", "search-all", "open"],
)
def test_the_rep_pages_run_a_fixed_number_of_queries(client, rep, team, source, django_assert_num_queries, n, params):
    _bulk_leads(n, owner=rep, team=team, source=source)
    client.force_login(rep)
    with django_assert_num_queries(QUEUE_QUERIES_REP):
        response = client.get(reverse("leads:queue"), {**params, "source": source.pk} if "q" in params else params)
    assert response.status_code == 200


@pytest.mark.parametrize("n", [5, 60])
@pytest.mark.parametrize(
    "params",
    [{}, {"stage": "lead"}, {"q": "Bulk 1"}, {"owner": "rep"}, {"owner": "rep", "q": "bulk", "stage": "all"}],
    ids=["team-queue", "stage-tab", "search", "owner-filter", "all-filters"],
)
def test_the_manager_pages_run_a_fixed_number_of_queries(
    client, manager, rep, team, source, django_assert_num_queries, n, params
):
    _bulk_leads(n, owner=rep, team=team, source=source)
    params = {**params, "source": source.pk}
    if params.get("owner") == "rep":
        params["owner"] = rep.pk
    client.force_login(manager)
    with django_assert_num_queries(QUEUE_QUERIES_MANAGER):
        response = client.get(reverse("leads:queue"), params)
    assert response.context["leads"]


@pytest.mark.parametrize("n", [5, 60])
@pytest.mark.parametrize(
    "params",
    [{}, {"stage": "lead"}, {"q": "bulk1"}, {"q": "example.com", "stage": "all"}],
    ids=["all-leads", "source-and-stage", "search", "search-all"],
)
def test_the_admin_pages_run_a_fixed_number_of_queries(
    client, admin_user, rep, team, source, django_assert_num_queries, n, params
):
    _bulk_leads(n, owner=rep, team=team, source=source)
    client.force_login(admin_user)
    with django_assert_num_queries(QUEUE_QUERIES_ADMIN):
        response = client.get(reverse("leads:queue"), {**params, "source": source.pk})
    assert response.context["leads"]


@pytest.mark.parametrize("page_number", ["1", "2", "99"])
def test_a_list_over_the_count_cap_pages_without_counting(
    client, rep, team, source, django_assert_num_queries, monkeypatch, page_number
):
    monkeypatch.setattr(selectors, "COUNT_CAP", 10)
    _bulk_leads(60, owner=rep, team=team, source=source)
    client.force_login(rep)
    # A page past the end too (the follow-up policy comes with the bell, rows or not).
    with django_assert_num_queries(QUEUE_QUERIES_REP):
        response = client.get(reverse("leads:queue"), {"stage": "all", "page": page_number})
    assert response.status_code == 200
    assert response.context["page"].paginator.count_is_exact is False


# The lead page, pinned here only (the qualification and follow-ups tests import it): session,
# user, permissions with role names, the lead with its SLA clock, the id of the criteria in
# force and the leads it referred, the follow-ups panel (1), the history (1: one UNION ALL), the
# qualification panel (calls, helpful closes: 2), the disqualification reasons, the bell with the
# follow-up policy. The criteria's rules cost one more query the first time a process shows a
# version (qualification.selectors.criteria_of_version), none after.
DETAIL_QUERIES = 10


@pytest.mark.parametrize("n", [5, 500])
def test_the_lead_page_runs_a_fixed_number_of_queries(client, rep, admin_user, lead, django_assert_num_queries, n):
    make_criteria(by=admin_user)
    _bulk_history(n, lead=lead, by=rep)
    calls = n // 100 + 1
    for i in range(calls):
        make_call(lead=lead, by=rep)
        make_lead(name=f"Referred {i}", team=lead.team, source=lead.source, owner=rep, referred_by_lead=lead)
    # A helpful close from an earlier disqualification (the lead was recycled since), while the
    # lead may still be disqualified, so the page lists the reasons too.
    HelpfulClose.objects.create(
        lead=lead, owner=rep, reason=DisqualificationReason.objects.first(), body="Hi", created_at=timezone.now()
    )
    client.force_login(rep)
    with django_assert_num_queries(DETAIL_QUERIES + 1):  # the first view reads v1's rules, for the process
        client.get(reverse("leads:detail", args=[lead.pk]))
    with django_assert_num_queries(DETAIL_QUERIES):
        response = client.get(reverse("leads:detail", args=[lead.pk]))
    assert "Disqualify and write a helpful reply" in response.content.decode()
    # + creation, first assignment, and the activity each call logs
    assert len(response.context["timeline"]) == 2 * n + 2 + calls
    assert len(response.context["referrals"]) == calls
    assert len(response.context["qual"].helpful_closes) == 1
    assert response.context["qual"].gate.criteria.number == 1
