"""The dashboard (and the drilled-down lead list) run a fixed number of SQL queries whatever the data size."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from dashboard import drill
from followups.models import FollowUp
from leads.models import Activity, Assignment, Lead, StageChange
from qualification.models import DiscoveryCall, DisqualificationReason, HelpfulClose
from tests.factories import make_source

# With no fresh snapshot (computed live, then stored): session, user, the user's permissions with
# their role names (1), the filters' teams, reps and sources (3), the follow-up policy (1), the
# snapshot looked up (1), the eighteen aggregate/list queries of dashboard_build (see its
# docstring), the snapshot stored (1), the bell's unread count (1).
DASHBOARD_QUERIES = 28
# From a fresh snapshot: the same without the aggregates, but the going-cold list (live).
SNAPSHOT_QUERIES = DASHBOARD_QUERIES - 18 - 1 + 1
CSV_QUERIES = DASHBOARD_QUERIES - 2 - 1  # always live: no snapshot, no page, so no bell
# The manager's lead list with every drill-down filter at once: the same count at 5 and 120 leads.
DRILLED_LIST_QUERIES = 10  # the manager's lead list pin (QUEUE_QUERIES_MANAGER)
# The lead list under a discipline / qualification drill-down, with leads listed: the same (the
# follow-up policy comes with the bell).
PANEL_DRILLED_LIST_QUERIES = DRILLED_LIST_QUERIES


def _bulk_pipeline(n, *, owners, team, sources):
    """n leads over the last 60 days with history, contacts and assignments, written in bulk."""
    now = timezone.now()
    leads = Lead.objects.bulk_create(
        Lead(
            name=f"Bulk {i}",
            email=f"bulk{i}@example.com",
            source=sources[i % len(sources)],
            team=team,
            owner=owners[i % len(owners)],
            stage=["lead", "prospect", "customer", "disqualified", "nurture", "lost"][i % 6],
            received_at=now - timedelta(days=i % 60, hours=1),
            stage_changed_at=now,
            first_contacted_at=None if i % 4 == 0 else now - timedelta(days=i % 60, minutes=60 - i % 50),
            last_touched_at=None if i % 4 == 0 else now - timedelta(days=i % 60, minutes=60 - i % 50),
        )
        for i in range(n)
    )
    changes, activities, assignments = [], [], []
    for i, lead in enumerate(leads):
        changes.append(StageChange(lead=lead, from_stage="", to_stage="lead", changed_at=lead.received_at))
        if lead.stage != "lead":
            prev = "lead" if lead.stage in ("prospect", "disqualified", "nurture") else "prospect"
            if prev == "prospect":
                changes.append(
                    StageChange(
                        lead=lead,
                        from_stage="lead",
                        to_stage="prospect",
                        changed_at=lead.received_at + timedelta(hours=5),
                    )
                )
            changes.append(
                StageChange(
                    lead=lead,
                    from_stage=prev,
                    to_stage=lead.stage,
                    changed_at=lead.received_at + timedelta(hours=9),
                    reason=f"reason {i % 3}",
                )
            )
        if lead.first_contacted_at:
            activities.append(Activity(lead=lead, kind="call", outcome="Spoke", occurred_at=lead.first_contacted_at))
        assignments.append(Assignment(lead=lead, to_owner=lead.owner, assigned_at=lead.received_at, reason="created"))
        if lead.stage == "prospect":
            changes[-1].is_override = True
    StageChange.objects.bulk_create(changes)
    Activity.objects.bulk_create(activities)
    Assignment.objects.bulk_create(assignments)
    # Follow-ups (overdue, done on time, done late, agreed), calls (passing and failing) and
    # helpful closes, so the discipline and qualification panels have rows to group.
    FollowUp.objects.bulk_create(
        FollowUp(
            lead=lead,
            owner=lead.owner,
            due_at=lead.received_at + timedelta(hours=k * 7),
            instruction="Call",
            state=["pending", "done", "done", "skipped"][(i + k) % 4],
            agreed_with_lead=k == 1,
            completed_at=None if (i + k) % 4 == 0 else lead.received_at + timedelta(hours=k * 7 + (i % 3) * 20),
        )
        for i, lead in enumerate(leads)
        for k in range(3)
    )
    evaluation = {
        "passed": False,
        "results": [{"kind": "problem_confirmed", "passed": False}, {"kind": "budget_known", "passed": True}],
    }
    DiscoveryCall.objects.bulk_create(
        DiscoveryCall(
            lead=lead,
            held_at=lead.received_at + timedelta(hours=2),
            evaluation={**evaluation, "passed": i % 2 == 0} if i % 3 else None,
        )
        for i, lead in enumerate(leads)
    )
    reason = DisqualificationReason.objects.order_by("pk").first()
    HelpfulClose.objects.bulk_create(
        HelpfulClose(lead=lead, owner=lead.owner, reason=reason, body="Try this", created_at=lead.received_at)
        for lead in leads
        if lead.stage == "disqualified"
    )


@pytest.mark.parametrize("n", [5, 120])
def test_the_dashboard_runs_a_fixed_number_of_queries(
    client, manager, rep, teammate, team, django_assert_num_queries, n
):
    _bulk_pipeline(n, owners=[rep, teammate], team=team, sources=[make_source(f"S{k}") for k in range(4)])
    client.force_login(manager)
    with django_assert_num_queries(DASHBOARD_QUERIES):
        response = client.get(reverse("dashboard:index"))
    assert response.context["dash"].total.n == n


@pytest.mark.parametrize("n", [5, 120])
def test_the_filtered_dashboard_and_its_csv_run_a_fixed_number_of_queries(
    client, manager, rep, teammate, team, django_assert_num_queries, n
):
    sources = [make_source(f"S{k}") for k in range(4)]
    _bulk_pipeline(n, owners=[rep, teammate], team=team, sources=sources)
    client.force_login(manager)
    params = {"team": team.pk, "rep": rep.pk, "source": sources[0].pk, "date_field": "changed"}
    with django_assert_num_queries(DASHBOARD_QUERIES):
        response = client.get(reverse("dashboard:index"), params)
    assert not response.context["form"].errors
    with django_assert_num_queries(CSV_QUERIES):
        client.get(reverse("dashboard:csv", args=["sources"]), params)


@pytest.mark.parametrize("n", [5, 120])
def test_the_drilled_down_lead_list_runs_a_fixed_number_of_queries(
    client, manager, rep, teammate, team, django_assert_num_queries, n
):
    sources = [make_source(f"S{k}") for k in range(2)]
    _bulk_pipeline(n, owners=[rep, teammate], team=team, sources=sources)
    client.force_login(manager)
    today = timezone.localdate()
    params = {
        "stage": "all",
        "team": team.pk,
        "received_from": (today - timedelta(days=89)).isoformat(),
        "received_to": today.isoformat(),
        "reached": "prospect",
        "response": "lt1h",
        "contacted_within": 15,
        "contacted": "true",
        "idle_days": 0,
        "dq_reason": "reason 1",
        "changed_from": (today - timedelta(days=89)).isoformat(),
        "changed_to": today.isoformat(),
    }
    with django_assert_num_queries(DRILLED_LIST_QUERIES):
        response = client.get(reverse("leads:queue"), params)
    assert not response.context["form"].errors


@pytest.mark.parametrize("n", [5, 120])
@pytest.mark.parametrize(
    "code",
    [c for c, _label in drill.DRILL_CHOICES if not c.startswith(drill.RULE_FAILED) or c.endswith("problem_confirmed")],
)
def test_the_follow_up_and_qualification_drill_downs_run_a_bounded_number_of_queries(
    client, manager, rep, teammate, team, n, code
):
    _bulk_pipeline(n, owners=[rep, teammate], team=team, sources=[make_source("S")])
    client.force_login(manager)
    today = timezone.localdate()
    params = {
        "stage": "all",
        "drill": code,
        "drill_from": (today - timedelta(days=89)).isoformat(),
        "drill_to": today.isoformat(),
    }
    # At most: the list itself reads the follow-up policy only when a listed lead needs it.
    # + the follow-up policy once more, for the on-time delay.
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("leads:queue"), params)
    assert len(ctx) <= PANEL_DRILLED_LIST_QUERIES + (code in drill.NEEDS_GRACE)
    assert not response.context["form"].errors
    assert response.context["page"].paginator.count > 0  # leads listed: the rows' queries are in the pin
