"""Speed-to-lead: the owner is alerted when the SLA's working minutes are up, then the manager;
never when the lead was contacted in time. Time is frozen and moved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from followups import services
from followups.models import FollowUp, Kind, Notification, SlaClock
from leads import services as lead_services
from leads.models import Activity, Assignment, Lead
from tests.factories import make_lead, stage_extras

MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # the personas work in UTC, 9–17 Mon–Fri


@pytest.fixture
def new_lead(rep, team, source, policy):
    with time_machine.travel(MONDAY_10, tick=False):
        return make_lead(owner=rep, team=team, source=source, name="Nora New", received_at=MONDAY_10)


def run_at(at: datetime) -> int:
    with time_machine.travel(at, tick=False):
        return services.dispatch_due(now=lambda: at)


def alerts() -> list[tuple[str, str]]:
    return list(Notification.objects.order_by("id").values_list("kind", "user__username"))


def test_the_owner_is_alerted_once_when_the_sla_is_up(new_lead, mailoutbox):
    assert run_at(MONDAY_10 + timedelta(minutes=14)) == 0
    assert alerts() == []

    run_at(MONDAY_10 + timedelta(minutes=15))
    run_at(MONDAY_10 + timedelta(minutes=16))

    assert alerts() == [("sla_owner", "rita")]
    assert mailoutbox[0].subject == "Call now: Nora New is waiting"
    clock = SlaClock.objects.get(lead=new_lead)
    assert clock.owner_alerted_at == MONDAY_10 + timedelta(minutes=15)
    assert clock.next_alert_at == clock.manager_due_at


def test_the_manager_is_alerted_once_past_the_second_threshold(new_lead):
    run_at(MONDAY_10 + timedelta(minutes=15))
    run_at(MONDAY_10 + timedelta(minutes=59))
    assert alerts() == [("sla_owner", "rita")]

    run_at(MONDAY_10 + timedelta(minutes=60))
    run_at(MONDAY_10 + timedelta(hours=5))

    assert alerts() == [("sla_owner", "rita"), ("sla_manager", "mona")]
    clock = SlaClock.objects.get(lead=new_lead)
    assert clock.next_alert_at is None
    new_lead.refresh_from_db()
    assert new_lead.owner is not None  # the return-to-pool setting is off by default


def test_nobody_is_alerted_when_the_lead_was_contacted_in_time(new_lead, rep):
    with time_machine.travel(MONDAY_10 + timedelta(minutes=10), tick=False):
        lead_services.activity_log(lead=new_lead, by=rep, kind=Activity.Kind.CALL, outcome="Spoke")
    run_at(MONDAY_10 + timedelta(minutes=15))
    run_at(MONDAY_10 + timedelta(hours=3))
    assert alerts() == []
    assert SlaClock.objects.get(lead=new_lead).stopped_at == MONDAY_10 + timedelta(minutes=10)


def test_a_note_does_not_stop_the_clock(new_lead, rep):
    with time_machine.travel(MONDAY_10 + timedelta(minutes=5), tick=False):
        lead_services.activity_log(lead=new_lead, by=rep, kind=Activity.Kind.NOTE, outcome="Looked them up")
    run_at(MONDAY_10 + timedelta(minutes=15))
    assert alerts() == [("sla_owner", "rita")]


def test_contact_after_the_owner_alert_spares_the_manager(new_lead, rep):
    run_at(MONDAY_10 + timedelta(minutes=15))
    with time_machine.travel(MONDAY_10 + timedelta(minutes=30), tick=False):
        lead_services.activity_log(lead=new_lead, by=rep, kind=Activity.Kind.EMAIL, outcome="Wrote back")
    run_at(MONDAY_10 + timedelta(hours=2))
    assert alerts() == [("sla_owner", "rita")]


def test_a_lead_disqualified_before_the_deadline_raises_no_alert(new_lead, rep):
    with time_machine.travel(MONDAY_10 + timedelta(minutes=3), tick=False):
        lead_services.lead_change_stage(
            lead=new_lead, to_stage=Lead.Stage.DISQUALIFIED, by=rep, reason="spam", **stage_extras("disqualified")
        )
    run_at(MONDAY_10 + timedelta(hours=2))
    assert alerts() == []


def test_the_clock_counts_working_time_only(rep, team, source, policy):
    friday_1650 = datetime(2026, 11, 20, 16, 50, tzinfo=UTC)
    with time_machine.travel(friday_1650, tick=False):
        lead = make_lead(owner=rep, team=team, source=source, received_at=friday_1650)
    run_at(datetime(2026, 11, 22, 12, 0, tzinfo=UTC))  # Sunday: 10 working minutes so far
    assert alerts() == []
    run_at(datetime(2026, 11, 23, 9, 5, tzinfo=UTC))  # Monday 09:05: 15 working minutes
    assert alerts() == [("sla_owner", "rita")]
    assert SlaClock.objects.get(lead=lead).owner_due_at == datetime(2026, 11, 23, 9, 5, tzinfo=UTC)
    # The lead carries the same deadline: the work queue orders uncontacted leads by it.
    lead.refresh_from_db()
    assert lead.sla_due_at == datetime(2026, 11, 23, 9, 5, tzinfo=UTC)


def test_both_alerts_go_out_once_after_downtime(new_lead):
    run_at(MONDAY_10 + timedelta(days=1))
    run_at(MONDAY_10 + timedelta(days=1, minutes=1))
    assert alerts() == [("sla_owner", "rita"), ("sla_manager", "mona")]


def test_with_the_setting_on_the_lead_returns_to_the_team_pool(new_lead, policy, manager):
    policy.sla_return_to_pool = True
    policy.save()
    with time_machine.travel(MONDAY_10, tick=False):
        followup = services.followup_add(
            lead=new_lead,
            owner=new_lead.owner,
            due_at=MONDAY_10 + timedelta(days=2),
            kind=Kind.CALL,
            instruction="x",
            by=manager,
        )
    run_at(MONDAY_10 + timedelta(minutes=60))

    new_lead.refresh_from_db()
    assert new_lead.owner is None
    assignment = Assignment.objects.filter(lead=new_lead).first()
    assert (assignment.to_owner, assignment.reason) == (None, "Speed-to-lead SLA missed")
    followup.refresh_from_db()
    assert followup.owner is None  # its reminder will go to the manager
    assert SlaClock.objects.get(lead=new_lead).returned_to_pool_at is not None
    assert Lead.objects.visible_to(manager).filter(pk=new_lead.pk).exists()


def test_an_sla_alert_that_cannot_be_emailed_is_retried_and_shown_once(new_lead, settings, mailoutbox):
    settings.EMAIL_BACKEND = "tests.followups.mailbox.FailingBackend"
    run_at(MONDAY_10 + timedelta(minutes=15))
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    run_at(MONDAY_10 + timedelta(minutes=17))
    assert alerts() == [("sla_owner", "rita")]
    assert len(mailoutbox) == 1
    assert FollowUp.objects.filter(lead=new_lead).count() == 0  # no cadence configured in this test


def test_a_bigger_batch_of_alerts_costs_one_more_query_per_email_only(rep, team, source, policy, mailoutbox):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def leads_received(at: datetime, n: int) -> None:
        with time_machine.travel(at, tick=False):
            for i in range(n):
                make_lead(owner=rep, team=team, source=source, name=f"Lead {at:%M}-{i}", received_at=at)

    def queries_at(at: datetime) -> int:
        with time_machine.travel(at, tick=False), CaptureQueriesContext(connection) as ctx:
            services.sla_dispatch_batch(now=at)
        return len(ctx.captured_queries)

    leads_received(MONDAY_10, 2)
    leads_received(MONDAY_10 + timedelta(minutes=1), 6)
    small = queries_at(MONDAY_10 + timedelta(minutes=15))
    big = queries_at(MONDAY_10 + timedelta(minutes=16))

    assert len(mailoutbox) == 8
    assert big - small == 4
    assert SlaClock.objects.filter(owner_alerted_at__isnull=False, claim_token__isnull=True).count() == 8


def test_the_alert_emails_say_what_the_lead_and_the_recipient_say(new_lead, mailoutbox):
    """The alert's templates read plain values the dispatcher gives them: an unknown name in a
    template would render as nothing, so each value is looked for in the email it belongs to."""
    Lead.objects.filter(pk=new_lead.pk).update(phone="+1 415 555 0100", company="Eagle & Sons")
    run_at(MONDAY_10 + timedelta(minutes=60))

    to_owner, to_manager = sorted(mailoutbox, key=lambda m: "missed" in m.subject)
    assert to_owner.subject == "Call now: Nora New (Eagle & Sons) is waiting"
    for text in ("Hello Rita,", "Nora New (Eagle & Sons) arrived Mon 23 Nov, 10:00 and is not contacted yet",
                 "Phone: +1 415 555 0100", f"Email: {new_lead.email}", f"/leads/{new_lead.pk}/"):  # fmt: skip
        assert text in to_owner.body, text
    assert "<strong>Nora New (Eagle &amp; Sons)</strong> arrived Mon 23 Nov, 10:00" in to_owner.alternatives[0][0]
    assert to_manager.subject == "Speed-to-lead missed: Nora New (Eagle & Sons), owner Rita Rep"
    for text in ("Hello Mona,", "still not contacted", "Owner: Rita Rep."):
        assert text in to_manager.body, text
