"""Scheduling: cadence steps land at the right local time; stage changes schedule and cancel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from followups import services
from followups.models import CadenceStep, FollowUp, Kind, SlaClock
from leads import services as lead_services
from leads.models import Lead
from tests.factories import make_lead, stage_extras

from .conftest import make_cadence

S = Lead.Stage
BERLIN = ZoneInfo("Europe/Berlin")
H, D, WD = CadenceStep.Unit.HOURS, CadenceStep.Unit.DAYS, CadenceStep.Unit.WORKING_DAYS


def local_dues(lead) -> list[datetime]:
    q = FollowUp.objects.filter(lead=lead, state=FollowUp.State.PENDING, recycles_lead=False).order_by("due_at")
    return [f.due_at.astimezone(BERLIN).replace(tzinfo=None) for f in q]


@pytest.fixture
def berlin_rep(rep):
    rep.time_zone = "Europe/Berlin"
    rep.save()
    return rep


def test_each_step_lands_at_the_owners_local_time_across_a_dst_change(berlin_rep, team, source, policy):
    make_cadence(S.LEAD, [(0, H, Kind.CALL), (1, D, Kind.EMAIL), (3, D, Kind.CALL), (7, D, Kind.EMAIL)])
    start = datetime(2026, 3, 27, 10, 0, tzinfo=BERLIN)  # Friday; summer time starts Sunday the 29th
    with time_machine.travel(start, tick=False):
        lead = make_lead(owner=berlin_rep, team=team, source=source, received_at=start)

    assert local_dues(lead) == [
        datetime(2026, 3, 27, 10, 0),
        datetime(2026, 3, 28, 10, 0),
        datetime(2026, 3, 30, 10, 0),  # after the change: still 10:00 local, one hour less in UTC
        datetime(2026, 4, 3, 10, 0),
    ]
    lead.refresh_from_db()
    assert lead.next_followup_at == start


def test_working_day_steps_skip_the_weekend_in_the_owners_zone(berlin_rep, team, source, policy):
    make_cadence(S.LEAD, [(1, WD, Kind.EMAIL), (3, WD, Kind.CALL)])
    friday = datetime(2026, 11, 20, 14, 0, tzinfo=BERLIN)
    with time_machine.travel(friday, tick=False):
        lead = make_lead(owner=berlin_rep, team=team, source=source, received_at=friday)
    assert local_dues(lead) == [datetime(2026, 11, 23, 14, 0), datetime(2026, 11, 25, 14, 0)]


def test_working_day_steps_of_a_lead_arriving_at_night_start_at_the_opening(berlin_rep, team, source, policy):
    make_cadence(S.LEAD, [(0, WD, Kind.CALL), (1, WD, Kind.EMAIL)])
    saturday_night = datetime(2026, 11, 21, 23, 30, tzinfo=BERLIN)
    with time_machine.travel(saturday_night, tick=False):
        lead = make_lead(owner=berlin_rep, team=team, source=source, received_at=saturday_night)
    assert local_dues(lead) == [datetime(2026, 11, 23, 9, 0), datetime(2026, 11, 24, 9, 0)]


def test_a_late_schedule_keeps_only_the_newest_past_step(rep, team, source, cadences):
    received = timezone.now() - timedelta(days=8, hours=1)  # an import: 0 h, 1 wd, 3 wd and 7 d are past
    lead = make_lead(owner=rep, team=team, source=source, received_at=received)
    dues = list(FollowUp.objects.filter(lead=lead).order_by("due_at").values_list("step__offset", "step__unit"))
    assert dues == [(7, D), (14, D), (30, D)]


def test_a_new_lead_gets_the_lead_cadence_and_a_speed_to_lead_clock(rep, team, source, cadences):
    lead = make_lead(owner=rep, team=team, source=source)
    followups = list(FollowUp.objects.filter(lead=lead))
    assert len(followups) == 6
    assert {f.owner for f in followups} == {rep}
    assert all(f.state == FollowUp.State.PENDING for f in followups)
    clock = SlaClock.objects.get(lead=lead)
    assert clock.started_at == lead.received_at
    assert clock.next_alert_at == clock.owner_due_at < clock.manager_due_at


def test_moving_to_prospect_cancels_pending_and_schedules_the_prospect_cadence(lead, manager, cadences):
    services.followups_schedule_for(lead=lead, cadence=cadences[S.LEAD], start=timezone.now())
    lead_services.lead_change_stage(
        lead=lead, to_stage=S.PROSPECT, by=manager, reason="passed the call", **stage_extras(S.PROSPECT)
    )

    pending = FollowUp.objects.filter(lead=lead, state=FollowUp.State.PENDING)
    assert {f.step.cadence for f in pending} == {cadences[S.PROSPECT]}
    assert pending.count() == 4
    assert FollowUp.objects.filter(lead=lead, state=FollowUp.State.CANCELLED).count() >= 6
    assert SlaClock.objects.get(lead=lead).stopped_at is not None
    lead.refresh_from_db()
    assert lead.next_followup_at == min(f.due_at for f in pending)


@pytest.mark.parametrize("path", [[S.DISQUALIFIED], [S.PROSPECT, S.CUSTOMER], [S.PROSPECT, S.LOST]])
def test_leaving_for_an_outcome_cancels_everything_pending(lead, manager, cadences, path):
    services.followup_add(
        lead=lead,
        owner=lead.owner,
        due_at=timezone.now() + timedelta(days=2),
        kind=Kind.CALL,
        instruction="x",
        by=manager,
    )
    for stage in path:
        lead_services.lead_change_stage(lead=lead, to_stage=stage, by=manager, reason="because", **stage_extras(stage))
    assert not FollowUp.objects.filter(lead=lead, state=FollowUp.State.PENDING).exists()
    lead.refresh_from_db()
    assert lead.next_followup_at is None


def test_nurture_schedules_the_slow_cadence_and_the_return_date(lead, rep, cadences, policy):
    at = timezone.now()
    lead_services.lead_change_stage(lead=lead, to_stage=S.NURTURE, by=rep, at=at)

    lead.refresh_from_db()
    assert lead.nurture_until == at + timedelta(days=policy.nurture_days)
    recycle = FollowUp.objects.get(lead=lead, state=FollowUp.State.PENDING, recycles_lead=True)
    assert recycle.due_at == lead.nurture_until
    slow = FollowUp.objects.filter(lead=lead, state=FollowUp.State.PENDING, recycles_lead=False)
    assert {f.step.cadence for f in slow} == {cadences[S.NURTURE]}

    lead_services.lead_change_stage(lead=lead, to_stage=S.LEAD, by=rep)
    lead.refresh_from_db()
    assert lead.nurture_until is None
    assert not FollowUp.objects.filter(lead=lead, state=FollowUp.State.PENDING, recycles_lead=True).exists()


def test_reassigning_a_lead_moves_its_pending_followups(lead, teammate, manager, cadences):
    services.followups_schedule_for(lead=lead, cadence=cadences[S.LEAD], start=timezone.now())
    lead_services.lead_reassign(lead=lead, to_owner=teammate, by=manager)
    assert set(FollowUp.objects.filter(lead=lead).values_list("owner", flat=True)) == {teammate.pk}


def test_a_lead_with_something_due_now_asks_for_a_dispatch_after_commit(
    rep, team, source, cadences, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        make_lead(owner=rep, team=team, source=source)
    assert len(callbacks) == 1


def test_many_leads_in_one_transaction_ask_for_one_dispatch(
    rep, team, source, cadences, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        for _ in range(3):
            make_lead(owner=rep, team=team, source=source)
    assert len(callbacks) == 1


def test_a_lead_with_nothing_due_yet_does_not(rep, team, source, policy, django_capture_on_commit_callbacks):
    make_cadence(S.LEAD, [(1, D, Kind.CALL)])
    with django_capture_on_commit_callbacks() as callbacks:
        make_lead(owner=rep, team=team, source=source)
    assert callbacks == []


def test_a_lead_in_the_pool_runs_on_its_managers_clock(team, source, cadences, manager):
    manager.time_zone = "Asia/Tokyo"
    manager.save()
    start = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # Monday 09:00 in Tokyo
    with time_machine.travel(start, tick=False):
        lead = make_lead(owner=None, by=manager, team=team, source=source, received_at=start)
    assert SlaClock.objects.get(lead=lead).owner_due_at == start + timedelta(minutes=15)
