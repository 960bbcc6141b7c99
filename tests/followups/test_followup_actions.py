"""What a rep does with a follow-up: complete (logging the activity), snooze, reschedule, skip, add."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from followups import services
from followups.models import FollowUp, Kind
from leads import services as lead_services
from leads.models import Activity, Lead
from tests.factories import make_user, stage_extras


@pytest.fixture
def followup(lead, rep):
    return services.followup_add(
        lead=lead,
        owner=rep,
        due_at=timezone.now() + timedelta(hours=2),
        kind=Kind.CALL,
        instruction="Call back",
        by=rep,
    )


def test_completing_logs_the_activity_and_closes_the_followup(followup, lead, rep):
    services.followup_complete(followup=followup, by=rep, activity_kind=Activity.Kind.CALL, outcome="Spoke, sends docs")

    followup.refresh_from_db()
    lead.refresh_from_db()
    assert followup.state == FollowUp.State.DONE
    assert followup.completed_by == rep and followup.completed_at is not None
    assert followup.activity.outcome == "Spoke, sends docs"
    assert followup.activity.lead == lead
    assert lead.first_contacted_at == followup.activity.occurred_at
    assert lead.next_followup_at is None


def test_completing_can_add_the_next_step(followup, lead, rep):
    next_due = timezone.now() + timedelta(days=3)
    services.followup_complete(
        followup=followup,
        by=rep,
        activity_kind=Activity.Kind.CALL,
        outcome="Call me Thursday",
        next_due_at=next_due,
        next_instruction="Thursday call",
    )
    lead.refresh_from_db()
    assert lead.next_followup_at == next_due
    assert FollowUp.objects.get(lead=lead, state=FollowUp.State.PENDING).instruction == "Thursday call"


def test_completing_twice_is_refused_and_logs_nothing_more(followup, rep):
    services.followup_complete(followup=followup, by=rep, activity_kind=Activity.Kind.CALL, outcome="done")
    with pytest.raises(ValidationError) as exc:
        services.followup_complete(followup=followup, by=rep, activity_kind=Activity.Kind.CALL, outcome="again")
    assert "already done" in exc.value.messages[0]
    assert Activity.objects.count() == 1


def test_a_refused_completion_saves_nothing(followup, rep):
    with pytest.raises(ValidationError):
        services.followup_complete(
            followup=followup,
            by=rep,
            activity_kind=Activity.Kind.CALL,
            outcome="ok",
            next_due_at=timezone.now() + timedelta(days=1),
        )  # a next step without saying what it is
    followup.refresh_from_db()
    assert followup.state == FollowUp.State.PENDING
    assert not Activity.objects.exists()


def test_snoozing_moves_the_due_time_and_rearms_the_reminder(followup, rep):
    FollowUp.objects.filter(pk=followup.pk).update(reminded_at=timezone.now(), escalated_at=timezone.now())
    until = timezone.now() + timedelta(days=1)
    services.followup_snooze(followup=followup, by=rep, until=until)
    followup.refresh_from_db()
    assert (followup.due_at, followup.reminded_at, followup.escalated_at) == (until, None, None)
    followup.lead.refresh_from_db()
    assert followup.lead.next_followup_at == until


def test_snoozing_into_the_past_is_refused(followup, rep):
    with pytest.raises(ValidationError) as exc:
        services.followup_snooze(followup=followup, by=rep, until=timezone.now() - timedelta(hours=1))
    assert "until" in exc.value.message_dict


def test_a_user_change_drops_a_dispatcher_claim_and_revives_a_failed_row(followup, rep):
    now = timezone.now()
    FollowUp.objects.filter(pk=followup.pk).update(
        lease_until=now, claim_token="00000000-0000-0000-0000-000000000001", attempts=5, failed_at=now, last_error="x"
    )
    services.followup_reschedule(followup=followup, by=rep, due_at=now + timedelta(days=2))
    followup.refresh_from_db()
    assert (followup.lease_until, followup.claim_token, followup.attempts, followup.failed_at) == (None, None, 0, None)


def test_rescheduling_can_change_what_it_is(followup, rep):
    due = timezone.now() + timedelta(days=4)
    services.followup_reschedule(followup=followup, by=rep, due_at=due, kind=Kind.EMAIL, instruction="Send the quote")
    followup.refresh_from_db()
    assert (followup.due_at, followup.kind, followup.instruction) == (due, Kind.EMAIL, "Send the quote")


def test_rescheduling_the_end_of_nurture_moves_the_return_date(lead, rep, policy):
    lead_services.lead_change_stage(lead=lead, to_stage=Lead.Stage.NURTURE, by=rep)
    recycle = FollowUp.objects.get(lead=lead, recycles_lead=True)
    new_date = timezone.now() + timedelta(days=10)
    services.followup_reschedule(followup=recycle, by=rep, due_at=new_date)
    lead.refresh_from_db()
    assert lead.nurture_until == new_date
    with pytest.raises(ValidationError):
        services.followup_reschedule(followup=recycle, by=rep, due_at=new_date, instruction="something else")


def test_the_end_of_nurture_cannot_be_marked_done_or_skipped(lead, rep, policy):
    lead_services.lead_change_stage(lead=lead, to_stage=Lead.Stage.NURTURE, by=rep)
    recycle = FollowUp.objects.get(lead=lead, recycles_lead=True)
    with pytest.raises(ValidationError):
        services.followup_complete(followup=recycle, by=rep, activity_kind=Activity.Kind.CALL, outcome="x")
    with pytest.raises(ValidationError):
        services.followup_skip(followup=recycle, by=rep)
    recycle.refresh_from_db()
    assert recycle.state == FollowUp.State.PENDING


def test_skipping_closes_it_without_an_activity(followup, rep):
    services.followup_skip(followup=followup, by=rep)
    followup.refresh_from_db()
    assert followup.state == FollowUp.State.SKIPPED
    assert followup.activity is None
    assert not Activity.objects.exists()


def test_a_date_agreed_with_the_lead_is_a_followup_marked_as_such(lead, rep):
    twelfth = timezone.now() + timedelta(days=12)
    followup = services.followup_add(
        lead=lead,
        owner=rep,
        due_at=twelfth,
        kind=Kind.CALL,
        instruction="Call as agreed",
        agreed_with_lead=True,
        by=rep,
    )
    assert followup.agreed_with_lead
    lead.refresh_from_db()
    assert lead.next_followup_at == twelfth


def test_adding_is_refused_for_a_closed_lead(lead, manager, rep):
    lead_services.lead_change_stage(
        lead=lead, to_stage=Lead.Stage.DISQUALIFIED, by=manager, reason="no budget", **stage_extras("disqualified")
    )
    with pytest.raises(ValidationError) as exc:
        services.followup_add(
            lead=lead, owner=rep, due_at=timezone.now() + timedelta(days=1), kind=Kind.CALL, instruction="x", by=rep
        )
    assert "disqualified" in exc.value.messages[0]


def test_adding_for_someone_outside_the_team_is_refused(lead, rep, other_rep):
    with pytest.raises(ValidationError) as exc:
        services.followup_add(
            lead=lead,
            owner=other_rep,
            due_at=timezone.now() + timedelta(days=1),
            kind=Kind.CALL,
            instruction="x",
            by=rep,
        )
    assert "owner" in exc.value.message_dict


def test_adding_needs_an_instruction_and_a_future_time(lead, rep):
    with pytest.raises(ValidationError) as exc:
        services.followup_add(
            lead=lead, owner=rep, due_at=timezone.now() + timedelta(days=1), kind=Kind.CALL, instruction=" ", by=rep
        )
    assert "instruction" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.followup_add(
            lead=lead, owner=rep, due_at=timezone.now() - timedelta(days=1), kind=Kind.CALL, instruction="x", by=rep
        )
    assert "due_at" in exc.value.message_dict
    assert not FollowUp.objects.exists()


def test_the_team_manager_may_own_a_followup(lead, manager):
    assert (
        services.followup_add(
            lead=lead,
            owner=manager,
            due_at=timezone.now() + timedelta(days=1),
            kind=Kind.TASK,
            instruction="Review",
            by=manager,
        ).owner
        == manager
    )


def test_a_user_without_a_team_is_not_a_valid_owner(lead, rep):
    stranger = make_user()
    with pytest.raises(ValidationError):
        services.followup_add(
            lead=lead,
            owner=stranger,
            due_at=timezone.now() + timedelta(days=1),
            kind=Kind.CALL,
            instruction="x",
            by=rep,
        )
