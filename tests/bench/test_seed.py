"""The benchmark's data set: realistic shape, consistent with what the services write, seeded
once. Runs on PostgreSQL (COPY) with a small N; `make bench` seeds 100,000 or 1,000,000."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import connection
from django.db.models import Count, Exists, F, Max, Min, OuterRef

from accounts.models import Membership, Team, User
from accounts.roles import sync_roles
from bench import seed
from followups.models import FollowUp, SlaClock
from leads.models import Activity, Assignment, Lead, LeadSource, StageChange
from qualification.evaluation import evaluate
from qualification.models import DiscoveryCall
from qualification.selectors import criteria_current

N = 3000

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def db_url():
    sync_roles(apps)  # a flush before this test may have emptied the role groups
    s = connection.settings_dict
    return f"postgres://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def seeded(db_url, monkeypatch):
    monkeypatch.setenv("BENCH_FORCE", "1")  # the test database's name has no "bench" in it
    return seed.seed(db_url, N, log=lambda msg: None)


def test_it_seeds_people_sources_and_leads_in_the_announced_proportions(seeded):
    assert not seeded["reused"]
    assert (User.objects.count(), Team.objects.count(), Membership.objects.count()) == (25, 4, 20)
    admin = User.objects.get(username="bench-admin")
    assert admin.has_perm("leads.view_all_leads") and not admin.is_superuser
    assert LeadSource.objects.count() == 10
    assert Lead.objects.count() == N
    per_lead = {
        "stage changes": StageChange.objects.count() / N,
        "activities": Activity.objects.count() / N,
        "assignments": Assignment.objects.count() / N,
    }
    assert 2.2 <= per_lead["stage changes"] <= 2.7, per_lead
    assert 3.5 <= per_lead["activities"] <= 4.5, per_lead
    assert 1.0 <= per_lead["assignments"] <= 1.15, per_lead
    assert set(Lead.objects.values_list("stage", flat=True)) == set(Lead.Stage.values)
    span = Lead.objects.aggregate(first=Min("received_at"), last=Max("received_at"))
    assert 700 <= (span["last"] - span["first"]).days <= 730
    # Intake grows: the second year brings more than the first.
    middle = span["first"] + (span["last"] - span["first"]) / 2
    assert (
        Lead.objects.filter(received_at__gte=middle).count() > 1.3 * Lead.objects.filter(received_at__lt=middle).count()
    )


def test_seeded_history_agrees_with_the_leads_as_the_services_would_write_it(seeded):
    # The stage is the last stage change's target; every lead has exactly one creation row.
    last_change = Lead.objects.annotate(last=Max("stage_changes__changed_at"))
    assert not last_change.exclude(stage_changed_at=F("last")).exists()
    creations = StageChange.objects.filter(from_stage="").values("lead_id").annotate(n=Count("id"))
    assert creations.count() == N and not creations.exclude(n=1).exists()
    latest = {sc.lead_id: sc.to_stage for sc in StageChange.objects.order_by("lead_id", "changed_at", "id")}
    assert all(latest[pk] == stage for pk, stage in Lead.objects.values_list("pk", "stage"))
    # first_contacted_at / last_touched_at are the first and last contact activity, as activity_log keeps them.
    contacts = Activity.objects.filter(kind__in=Activity.CONTACT_KINDS)
    bounds = {
        row["lead_id"]: (row["first"], row["last"])
        for row in contacts.values("lead_id").annotate(first=Min("occurred_at"), last=Max("occurred_at"))
    }
    for pk, first, last in Lead.objects.values_list("pk", "first_contacted_at", "last_touched_at"):
        assert bounds.get(pk, (None, None)) == (first, last), pk
    # Uncontacted leads exist (the queue's top), a prospect was always spoken to first.
    assert Lead.objects.filter(first_contacted_at__isnull=True, stage="lead").exists()
    assert not Lead.objects.filter(stage__in=["prospect", "customer"], first_contacted_at__isnull=True).exists()
    # The lead carries its clock's deadline (followups_plan_new_leads writes both).
    clocks = dict(SlaClock.objects.values_list("lead_id", "owner_due_at"))
    assert all(clocks[pk] == due for pk, due in Lead.objects.values_list("pk", "sla_due_at"))
    # Owners belong to the lead's team (lead_create and lead_reassign check it).
    member = Membership.objects.filter(team=OuterRef("team"), user=OuterRef("owner"))
    assert not Lead.objects.exclude(owner=None).exclude(Exists(member)).exists()


def test_a_second_run_reuses_the_data_set(seeded, db_url):
    again = seed.seed(db_url, N, log=lambda msg: None)
    assert again["reused"] is True
    assert not again["this_run"]
    assert set(again["seeders"]) == {s.name for s in seed.SEEDERS} | {"_total"}
    assert again["seeders"]["_total"]["seconds"] >= again["seeders"]["leads"]["seconds"]


def test_the_data_set_is_the_same_every_time(seeded, db_url):
    before = list(Lead.objects.order_by("pk").values_list("name", "email", "stage", "owner_id")[:200])
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {seed.MARKER_TABLE}")
    seed.seed(db_url, N, log=lambda msg: None)
    after = list(Lead.objects.order_by("pk").values_list("name", "email", "stage", "owner_id")[:200])
    assert before == after


def test_it_refuses_to_replace_a_data_set_of_another_size_unless_told(seeded, db_url, monkeypatch):
    monkeypatch.delenv("BENCH_RESEED", raising=False)
    with pytest.raises(SystemExit, match="holds the data set of 3,000 leads, not 3,001"):
        seed.seed(db_url, N + 1, log=lambda msg: None)
    assert Lead.objects.count() == N  # nothing truncated


def test_it_refuses_a_database_that_is_not_a_benchmark_one(monkeypatch):
    monkeypatch.delenv("BENCH_FORCE", raising=False)
    with pytest.raises(SystemExit, match="refusing"):
        seed.seed("postgres://postgres@127.0.0.1:5432/leadflow", 10, log=lambda msg: None)


def test_followups_calls_and_clocks_come_in_the_announced_proportions(seeded):
    followups = FollowUp.objects.count() / N
    pending = FollowUp.objects.filter(state="pending").count() / FollowUp.objects.count()
    called = DiscoveryCall.objects.values("lead_id").distinct().count() / N
    assert 4.5 <= followups <= 5.5 and 0.17 <= pending <= 0.23, (followups, pending)
    assert 0.30 <= called <= 0.36, called
    assert SlaClock.objects.count() == N
    # Pending follow-ups belong to open leads; some are overdue, most are not.
    assert not FollowUp.objects.filter(state="pending", lead__stage__in=["customer", "lost", "disqualified"]).exists()
    now = Lead.objects.aggregate(last=Max("received_at"))["last"]
    overdue = FollowUp.objects.filter(state="pending", due_at__lte=now).count()
    assert 0 < overdue < FollowUp.objects.filter(state="pending").count() / 3
    # next_followup_at is what followups_refresh_next would write.
    nearest = FollowUp.objects.filter(state="pending", lead=OuterRef("pk")).order_by("due_at").values("due_at")[:1]
    from django.db.models import Subquery

    assert (
        not Lead.objects.annotate(n=Subquery(nearest))
        .exclude(next_followup_at__isnull=True, n__isnull=True)
        .exclude(next_followup_at=F("n"))
        .exists()
    )


def test_every_prospect_through_the_gate_has_a_passing_call_before_its_move(seeded):
    criteria = criteria_current()
    assert criteria is not None  # the seeder publishes the suggested criteria
    reached = StageChange.objects.filter(from_stage="lead", to_stage="prospect").select_related("lead")
    # A third of the leads have calls; prospects beyond that were manager overrides, with a reason.
    assert not reached.filter(is_override=True, reason="").exists()
    reached = reached.filter(is_override=False)
    assert reached.exists()
    for change in reached[:200]:
        call = DiscoveryCall.objects.filter(lead=change.lead, held_at__lt=change.changed_at).first()
        assert call is not None, change.lead_id
        assert call.held_at >= change.lead.first_contacted_at
        assert evaluate(call, criteria).passed, (change.lead_id, evaluate(call, criteria))


def test_an_older_seed_version_is_seeded_again(seeded, db_url, monkeypatch):
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {seed.MARKER_TABLE} SET seed_version = seed_version - 1")
    again = seed.seed(db_url, N, log=lambda msg: None)
    assert again["reused"] is False and "followups" in again["this_run"] and "leads" in again["this_run"]
