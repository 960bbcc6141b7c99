"""Pages keep a fixed number of SQL queries however many calls, rules, versions and helpful
closes there are: measured small and large, and pinned."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from qualification.defaults import SUGGESTED_THRESHOLD, suggested_rules
from qualification.models import DisqualificationReason
from qualification.services import lead_disqualify
from tests.factories import FAILING_ANSWERS, make_call, make_criteria, make_lead
from tests.leads.test_query_counts import DETAIL_QUERIES

ONE_RULE = [{"kind": "problem_confirmed", "required": True}]


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def add_calls(lead, n: int) -> None:
    start = lead.received_at + timedelta(minutes=1)
    for i in range(n):
        answers = FAILING_ANSWERS if i % 2 else {}
        make_call(lead=lead, held_at=start + timedelta(minutes=i), **answers)


# Session, user, the user's permissions with their role names, the lead with the id of the
# criteria in force, the latest call, the bell. (The rules of a criteria version: one more query
# the first time a process shows it, qualification.selectors.criteria_of_version.)
CALL_PAGE_QUERIES = 6


def test_the_call_page_does_not_grow_with_calls_or_rules(client, lead, rep, admin_user, django_assert_num_queries):
    client.force_login(rep)
    url = reverse("qualification:call_new", args=[lead.pk])
    make_criteria(by=admin_user, rules=ONE_RULE, threshold=0)
    add_calls(lead, 1)
    assert count_queries(client, url) == CALL_PAGE_QUERIES + 1  # the first view reads the version's rules
    small = count_queries(client, url)

    make_criteria(by=admin_user, rules=suggested_rules(), threshold=SUGGESTED_THRESHOLD)
    add_calls(lead, 50)
    assert count_queries(client, url) == CALL_PAGE_QUERIES + 1  # and so for the new version
    with django_assert_num_queries(CALL_PAGE_QUERIES):
        response = client.get(url)

    assert small == CALL_PAGE_QUERIES
    assert len(response.context["previous_evaluation"].results) == 7


def test_the_lead_page_and_its_checklist_do_not_grow(client, lead, rep, team, admin_user, django_assert_num_queries):
    client.force_login(rep)
    make_criteria(by=admin_user, rules=ONE_RULE, threshold=0)
    add_calls(lead, 1)
    # The first view of a criteria version reads its rules, once per process: the pinned count
    # is every later view's.
    assert count_queries(client, lead.get_absolute_url()) == DETAIL_QUERIES + 1
    small = count_queries(client, lead.get_absolute_url())

    make_criteria(by=admin_user, rules=suggested_rules(), threshold=SUGGESTED_THRESHOLD)
    add_calls(lead, 50)
    for _ in range(5):
        make_lead(owner=rep, team=team, referred_by_lead=lead)
    assert count_queries(client, lead.get_absolute_url()) == DETAIL_QUERIES + 1  # the new version's rules
    with django_assert_num_queries(DETAIL_QUERIES):
        response = client.get(lead.get_absolute_url())

    assert small == DETAIL_QUERIES
    assert len(response.context["referrals"]) == 5
    assert len(response.context["qual"].calls) == 51
    assert len(response.context["qual"].gate.evaluation.results) == 7


def test_a_disqualified_lead_page_with_its_helpful_close_does_not_grow(
    client, lead, rep, admin_user, django_assert_num_queries
):
    client.force_login(rep)
    make_criteria(by=admin_user)
    add_calls(lead, 30)
    lead_disqualify(lead=lead, by=rep, reason=DisqualificationReason.objects.get(code="no_budget"))
    client.get(lead.get_absolute_url())  # reads the rules of the criteria, once per process

    # An outcome: no disqualify form, so no reason list (no temperature badge either, but the
    # follow-up policy comes with the bell).
    with django_assert_num_queries(DETAIL_QUERIES - 1):
        client.get(lead.get_absolute_url())


# Session, user, permissions with role names, versions, their rules, the bell.
CRITERIA_PAGE_QUERIES = 6


def test_the_criteria_page_does_not_grow_with_versions(client, admin_user, django_assert_num_queries):
    client.force_login(admin_user)
    make_criteria(by=admin_user, rules=ONE_RULE, threshold=0)
    small = count_queries(client, reverse("qualification:criteria"))

    for threshold in range(1, 21):
        make_criteria(by=admin_user, rules=suggested_rules(), threshold=threshold % 6)
    with django_assert_num_queries(CRITERIA_PAGE_QUERIES):
        client.get(reverse("qualification:criteria"))

    assert small == CRITERIA_PAGE_QUERIES


@pytest.mark.parametrize("persona", ["rep", "manager"])
def test_the_queue_adds_one_fixed_query_for_helpful_closes(client, request, rep, team, persona):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    reason = DisqualificationReason.objects.get(code="no_budget")
    lead_disqualify(lead=make_lead(owner=rep, team=team), by=rep, reason=reason)
    small = count_queries(client, reverse("leads:queue"))

    for _ in range(15):
        lead_disqualify(lead=make_lead(owner=rep, team=team), by=rep, reason=reason)
    big = count_queries(client, reverse("leads:queue"))

    assert small == big
    html = client.get(reverse("leads:queue")).content.decode()
    assert "10+" in html


def test_helpful_closes_are_created_at_disqualification_time(lead, rep):
    # Guards the fixture above: every disqualification with a reply makes exactly one task.
    lead_disqualify(lead=lead, by=rep, reason=DisqualificationReason.objects.get(code="cheaper_diy"))
    assert lead.helpful_closes.count() == 1
    assert lead.helpful_closes.get().created_at <= timezone.now()
