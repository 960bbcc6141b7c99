"""The dispatcher, in process: claim → send → mark, once per reminder, caught up after downtime."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from followups import services, tasks
from followups.emails import message_id_for
from followups.models import FollowUp, FollowUpPolicy, Kind, Notification
from leads import services as lead_services
from leads.models import Lead
from tests.factories import make_lead, stage_extras

from .mailbox import DyingBackend, MarkCheckingBackend, RefusingBackend, SlowBackend

LEASE = timedelta(seconds=300)  # settings.FOLLOWUP_LEASE_SECONDS


@pytest.fixture
def lead(lead, rep):
    """Lena, contacted already: only her follow-ups are dispatched here (the SLA is test_sla.py's)."""
    lead_services.activity_log(lead=lead, by=rep, kind="call", outcome="First call")
    return lead


def add(lead, *, due_in: timedelta, owner="lead-owner", instruction="Call back", **kw) -> FollowUp:
    """A follow-up due `due_in` from now (negative: already due), written as the scheduler would."""
    followup = FollowUp.objects.create(
        lead=lead,
        owner=lead.owner if owner == "lead-owner" else owner,
        due_at=timezone.now() + due_in,
        kind=Kind.CALL,
        instruction=instruction,
        **kw,
    )
    services.followups_refresh_next(lead_ids=[lead.pk])
    return followup


def dispatch(at=None) -> int:
    at = at or timezone.now()
    return services.dispatch_due(now=lambda: at)


def test_a_due_followup_is_reminded_once_by_email_and_in_the_app(lead, rep, mailoutbox):
    followup = add(lead, due_in=-timedelta(minutes=1))

    assert dispatch() == 1
    assert dispatch() == 0

    (notification,) = Notification.objects.all()
    assert (notification.user, notification.kind, notification.url) == (rep, "reminder", lead.get_absolute_url())
    assert "Call back" in notification.text and notification.emailed_at is not None
    (email,) = mailoutbox
    assert email.to == [rep.email]
    assert email.subject == "Call Lena Lead: Call back"
    assert email.extra_headers["Message-ID"] == message_id_for(notification.key)
    assert lead.get_absolute_url() in email.body
    assert email.alternatives[0][1] == "text/html"
    followup.refresh_from_db()
    assert followup.reminded_at is not None
    assert (followup.lease_until, followup.claim_token, followup.attempts) == (None, None, 0)
    assert followup.state == FollowUp.State.PENDING  # reminding is not doing


def test_nothing_is_sent_before_the_due_time(lead, mailoutbox):
    add(lead, due_in=timedelta(minutes=5))
    assert dispatch() == 0
    assert dispatch(timezone.now() + timedelta(minutes=6)) == 1
    assert len(mailoutbox) == 1


def test_after_a_day_of_downtime_each_overdue_reminder_goes_out_once(lead, rep, teammate, team, source, mailoutbox):
    other = make_lead(owner=teammate, team=team, source=source)
    for hours in range(1, 24, 2):  # one due every two hours during the outage
        add(lead if hours % 4 == 1 else other, due_in=-timedelta(hours=hours), instruction=f"due {hours} h ago")

    dispatch()
    dispatch()
    dispatch(timezone.now() + timedelta(minutes=1))

    assert Notification.objects.filter(kind="reminder").count() == 12
    assert len([m for m in mailoutbox if m.subject.startswith("Call")]) == 12
    assert not FollowUp.objects.filter(reminded_at__isnull=True).exists()


def test_a_worker_that_dies_mid_batch_loses_nothing_and_a_second_worker_waits_for_the_lease(lead, settings, mailoutbox):
    for i in range(5):
        add(lead, due_in=-timedelta(minutes=10 - i), instruction=f"step {i}")
    settings.EMAIL_BACKEND = "tests.followups.mailbox.DyingBackend"
    DyingBackend.survive, DyingBackend.sent = 2, 0
    now = timezone.now()

    with pytest.raises(KeyboardInterrupt):
        dispatch(now)  # claims all five, emails two, dies

    assert FollowUp.objects.filter(claim_token__isnull=False).count() == 5
    assert dispatch(now + timedelta(seconds=1)) == 0  # a second worker: the rows are claimed
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert dispatch(now + LEASE + timedelta(seconds=1)) == 5  # the lease ran out: taken over

    assert Notification.objects.count() == 5
    assert sorted(m.subject for m in mail.outbox) == sorted(f"Call Lena Lead: step {i}" for i in range(5))
    assert not FollowUp.objects.filter(reminded_at__isnull=True).exists()
    assert set(FollowUp.objects.values_list("attempts", flat=True)) == {0}


def test_a_failing_mail_server_backs_off_then_marks_the_row_failed(lead, settings, policy):
    followup = add(lead, due_in=-timedelta(minutes=1))
    settings.EMAIL_BACKEND = "tests.followups.mailbox.FailingBackend"
    now = timezone.now()

    dispatch(now)
    followup.refresh_from_db()
    assert followup.attempts == 1 and "mail server down" in followup.last_error
    assert followup.claim_token is None and followup.lease_until == now + timedelta(minutes=1)
    assert followup.reminded_at is None

    for _ in range(policy.max_attempts - 1):
        now += timedelta(hours=2)  # past every back-off
        dispatch(now)
    followup.refresh_from_db()
    assert followup.failed_at is not None
    assert followup.attempts == policy.max_attempts
    assert followup.lease_until is None
    assert dispatch(now + timedelta(days=1)) == 0  # failed rows wait for a person
    assert Notification.objects.count() == 1  # the bell showed it once all along


def test_the_mail_server_coming_back_delivers_the_email_once(lead, settings, mailoutbox):
    add(lead, due_in=-timedelta(minutes=1))
    settings.EMAIL_BACKEND = "tests.followups.mailbox.FailingBackend"
    now = timezone.now()
    dispatch(now)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    dispatch(now + timedelta(minutes=2))
    dispatch(now + timedelta(minutes=5))
    assert len(mailoutbox) == 1
    assert Notification.objects.get().emailed_at is not None


def test_an_overdue_followup_is_escalated_to_the_manager_once(lead, manager, policy, mailoutbox):
    followup = add(lead, due_in=-timedelta(minutes=1))
    now = timezone.now()
    dispatch(now)
    dispatch(now + timedelta(hours=policy.escalation_hours - 1))
    assert not Notification.objects.filter(kind="escalation").exists()

    dispatch(now + timedelta(hours=policy.escalation_hours))
    dispatch(now + timedelta(hours=policy.escalation_hours + 5))

    (escalation,) = Notification.objects.filter(kind="escalation")
    assert escalation.user == manager
    assert "Rita Rep" in escalation.text
    followup.refresh_from_db()
    assert followup.escalated_at is not None
    assert [m.to for m in mailoutbox] == [[lead.owner.email], [manager.email]]


def test_the_reminder_and_escalation_emails_say_what_the_row_its_lead_and_the_recipient_say(
    lead, rep, manager, policy, mailoutbox
):
    """The emails' templates read plain values the dispatcher gives them: an unknown name in a
    template would render as nothing, so each value is looked for in the email it belongs to."""
    Lead.objects.filter(pk=lead.pk).update(phone="+1 555 0100", company="Eagle & Sons")
    manager.first_name = ""
    manager.save()
    add(lead, due_in=-timedelta(hours=policy.escalation_hours + 3), instruction="Ask <why>", agreed_with_lead=True)
    dispatch()

    reminder, escalation = sorted(mailoutbox, key=lambda m: m.to != [rep.email])
    assert reminder.subject == "Call Lena Lead (Eagle & Sons): Ask <why>"
    for text in ("Hello Rita,", "Call Lena Lead (Eagle & Sons): Ask <why>", "The lead agreed to this date.",
                 "Phone: +1 555 0100", "Email: lena@example.com", f"/leads/{lead.pk}/"):  # fmt: skip
        assert text in reminder.body, text
    html = reminder.alternatives[0][0]
    for text in ("Hello Rita,", "Lena Lead (Eagle &amp; Sons)</strong>: Ask &lt;why&gt;", "agreed to this date",
                 "Phone: +1 555 0100", "Email: lena@example.com"):  # fmt: skip
        assert text in html, text
    assert (
        escalation.subject == f"Overdue {policy.escalation_hours + 3} h: Rita Rep's call with Lena Lead (Eagle & Sons)"
    )
    for text in ("Hello mona,", "Rita Rep: Call Lena Lead (Eagle & Sons) — Ask <why>", "check in with Rita Rep."):
        assert text in escalation.body, text
    assert "Hello mona," in escalation.alternatives[0][0]


def test_a_followup_done_in_time_is_not_escalated(lead, rep, policy):
    followup = add(lead, due_in=-timedelta(minutes=1))
    now = timezone.now()
    dispatch(now)
    services.followup_complete(followup=followup, by=rep, activity_kind="call", outcome="done")
    dispatch(now + timedelta(hours=policy.escalation_hours + 1))
    assert not Notification.objects.filter(kind="escalation").exists()


def test_a_followup_found_very_late_is_reminded_and_escalated_in_one_pass(lead, manager, policy):
    add(lead, due_in=-timedelta(hours=policy.escalation_hours + 3))
    assert dispatch() == 1
    assert set(Notification.objects.values_list("kind", "user")) == {
        ("reminder", lead.owner_id),
        ("escalation", manager.pk),
    }


def test_a_snoozed_followup_is_reminded_again_at_its_new_time(lead, rep):
    followup = add(lead, due_in=-timedelta(minutes=1))
    now = timezone.now()
    dispatch(now)
    services.followup_snooze(followup=followup, by=rep, until=now + timedelta(hours=1))
    dispatch(now + timedelta(minutes=30))
    assert Notification.objects.count() == 1
    dispatch(now + timedelta(hours=1, minutes=1))
    assert Notification.objects.count() == 2


def test_cancelled_and_done_followups_are_not_reminded(lead, rep, manager):
    done = add(lead, due_in=timedelta(minutes=1))
    services.followup_complete(followup=done, by=rep, activity_kind="call", outcome="early")
    add(lead, due_in=timedelta(minutes=1))
    lead_services.lead_change_stage(
        lead=lead, to_stage=Lead.Stage.DISQUALIFIED, by=manager, reason="no budget", **stage_extras("disqualified")
    )
    assert dispatch(timezone.now() + timedelta(minutes=2)) == 0
    assert not Notification.objects.exists()


def test_a_followup_of_a_lead_in_the_team_pool_reminds_the_manager(team, source, manager):
    pooled = make_lead(owner=None, by=manager, team=team, source=source)
    add(pooled, due_in=-timedelta(minutes=1), owner=None)
    dispatch()
    assert Notification.objects.get(kind="reminder").user == manager


def test_a_user_without_an_email_address_gets_the_notification_only(lead, rep, mailoutbox):
    rep.email = ""
    rep.save()
    add(lead, due_in=-timedelta(minutes=1))
    dispatch()
    assert Notification.objects.get().email_to == ""
    assert mailoutbox == []


def test_times_in_the_reminder_read_in_the_recipients_zone(lead, rep, mailoutbox):
    rep.time_zone = "Asia/Tokyo"
    rep.save()
    followup = add(lead, due_in=-timedelta(minutes=1))
    dispatch()
    tokyo = timezone.localtime(followup.due_at, timezone.get_fixed_timezone(9 * 60)).strftime("%H:%M")
    assert tokyo in Notification.objects.get().text
    assert tokyo in mailoutbox[0].body


def test_the_end_of_nurture_brings_the_lead_back_and_tells_its_owner(lead, rep, cadences):
    lead_services.lead_change_stage(lead=lead, to_stage=Lead.Stage.NURTURE, by=rep)
    lead.refresh_from_db()
    after = lead.nurture_until + timedelta(minutes=1)
    dispatch(after)

    lead.refresh_from_db()
    assert lead.stage == Lead.Stage.LEAD
    assert lead.nurture_until is None
    assert lead.stage_changes.first().reason == "Nurture period over"
    (notification,) = Notification.objects.filter(kind="nurture")
    assert notification.user == rep
    recycle = FollowUp.objects.get(lead=lead, recycles_lead=True)
    assert recycle.state == FollowUp.State.DONE
    # The lead is worked again on the new-lead cadence.
    assert FollowUp.objects.filter(lead=lead, state="pending", step__cadence=cadences["lead"]).exists()
    dispatch(after + timedelta(minutes=1))
    assert Notification.objects.filter(kind="nurture").count() == 1


def test_the_beat_task_runs_the_dispatcher(lead, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    add(lead, due_in=-timedelta(minutes=1))
    assert tasks.dispatch_due_followups.apply().get() == 1
    assert Notification.objects.count() == 1


def test_batches_follow_the_policy_size(lead, policy):
    policy.batch_size = 3
    policy.save()
    for i in range(7):
        add(lead, due_in=-timedelta(minutes=i + 1))
    assert services.followup_dispatch_batch(now=timezone.now()) == 3
    assert FollowUpPolicy.load().batch_size == 3
    assert dispatch() == 4


def test_a_notification_left_by_a_dead_worker_is_neither_shown_nor_emailed_twice(lead, mailoutbox):
    """A worker died after creating (and emailing) one row's notification but before marking the row:
    the next batch takes the row over with the others and neither duplicates the bell nor the email."""
    rows = [add(lead, due_in=-timedelta(minutes=5 - i), instruction=f"step {i}") for i in range(3)]
    now = timezone.now()
    Notification.objects.create(
        user=lead.owner,
        kind=Notification.Kind.REMINDER,
        key=services._due_key(rows[1], "reminder"),
        text="left by the dead worker",
        created_at=now,
        email_to=lead.owner.email,
        emailed_at=now,
    )

    assert dispatch(now) == 3

    assert Notification.objects.count() == 3
    assert Notification.objects.get(key=services._due_key(rows[1], "reminder")).text == "left by the dead worker"
    assert sorted(m.subject for m in mailoutbox) == ["Call Lena Lead: step 0", "Call Lena Lead: step 2"]
    assert not Notification.objects.filter(emailed_at__isnull=True).exists()
    assert not FollowUp.objects.filter(reminded_at__isnull=True).exists()
    assert dispatch(now + LEASE * 2) == 0


def test_one_refused_email_backs_off_that_row_alone_and_it_is_retried_once(lead, teammate, settings, mailoutbox):
    mine = [add(lead, due_in=-timedelta(minutes=3 - i), instruction=f"mine {i}") for i in range(2)]
    theirs = add(lead, due_in=-timedelta(minutes=2), owner=teammate, instruction="theirs")
    settings.EMAIL_BACKEND = "tests.followups.mailbox.RefusingBackend"
    RefusingBackend.refused = {teammate.email}
    now = timezone.now()

    assert dispatch(now) == 3

    theirs.refresh_from_db()
    assert theirs.reminded_at is None and theirs.attempts == 1 and "mailbox unavailable" in theirs.last_error
    assert theirs.claim_token is None and theirs.lease_until == now + timedelta(minutes=1)
    for row in mine:
        row.refresh_from_db()
        assert row.reminded_at == now and row.attempts == 0 and row.claim_token is None
    assert sorted(m.subject for m in mailoutbox) == ["Call Lena Lead: mine 0", "Call Lena Lead: mine 1"]
    assert Notification.objects.count() == 3  # the bell shows the refused one already

    RefusingBackend.refused = set()
    assert dispatch(now + timedelta(seconds=30)) == 0  # still backing off
    assert dispatch(now + timedelta(minutes=2)) == 1  # only the refused row comes back

    assert [m.to for m in mailoutbox] == [[lead.owner.email]] * 2 + [[teammate.email]]
    assert Notification.objects.count() == 3
    assert not Notification.objects.filter(emailed_at__isnull=True).exists()
    theirs.refresh_from_db()
    assert theirs.reminded_at is not None and theirs.attempts == 0 and theirs.last_error == ""


def batch_queries(run) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        run()
    return len(ctx.captured_queries)


def test_a_bigger_batch_costs_one_more_query_per_email_only(lead, policy, mailoutbox):
    """Claim, lock, notify and mark are a fixed number of statements per batch; what grows with the
    batch is one UPDATE per email, each right after its email went (a kill resends at most one)."""
    for i in range(2):
        add(lead, due_in=-timedelta(minutes=10 + i))
    small = batch_queries(lambda: services.followup_dispatch_batch(now=timezone.now()))
    for i in range(7):
        add(lead, due_in=-timedelta(minutes=i + 1))
    big = batch_queries(lambda: services.followup_dispatch_batch(now=timezone.now()))
    assert len(mailoutbox) == 9
    assert big - small == 5


def test_a_slow_mail_server_stops_the_batch_before_its_lease_runs_out(lead, settings, mailoutbox):
    """Emails stop at four fifths of the lease: the rest are retried by a later batch, never sent
    by a second worker while the first still sends."""
    rows = [add(lead, due_in=-timedelta(minutes=10 - i), instruction=f"step {i}") for i in range(5)]
    settings.FOLLOWUP_LEASE_SECONDS = 2
    settings.EMAIL_BACKEND = "tests.followups.mailbox.SlowBackend"
    SlowBackend.delay = 0.5
    now = timezone.now()

    services.followup_dispatch_batch(now=now)

    first = len(mailoutbox)
    assert first < 5
    late = FollowUp.objects.filter(reminded_at__isnull=True)
    assert late.count() == 5 - first
    assert all("lease ran short" in row.last_error and row.claim_token is None for row in late)
    assert Notification.objects.count() == 5  # the bell shows them all at once

    SlowBackend.delay = 0
    dispatch(now + timedelta(minutes=2))
    assert sorted(m.subject for m in mailoutbox) == sorted(f"Call Lena Lead: {r.instruction}" for r in rows)
    assert not FollowUp.objects.filter(reminded_at__isnull=True).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_each_email_is_marked_before_the_next_one_goes(committed_db, lead, settings):
    """Workers mark emails on a second connection without waiting for the answer (the next email
    is rendered meanwhile): still, when an email goes, every earlier one is marked in the database."""
    for i in range(30):
        add(lead, due_in=-timedelta(minutes=30 - i), instruction=f"step {i}")
    settings.EMAIL_BACKEND = "tests.followups.mailbox.MarkCheckingBackend"
    MarkCheckingBackend.unmarked = []
    mail.outbox = []

    assert dispatch() == 30

    assert MarkCheckingBackend.unmarked == [0] * 30
    assert len(mail.outbox) == 30
    assert not Notification.objects.filter(emailed_at__isnull=True).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_dispatch_round_marks_every_batch_on_one_second_connection(committed_db, lead, policy, monkeypatch):
    """Opening the marks' connection per batch started a database backend each time: a round keeps
    one for all its batches (each batch's marks still committed before its claim is released), and
    closes it at the end."""
    from leadflow import emailmarks

    opened = []

    class CountedMarks(emailmarks.PipelinedMarks):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            opened.append(self)

    monkeypatch.setattr(emailmarks, "PipelinedMarks", CountedMarks)
    FollowUpPolicy.objects.update(batch_size=2)
    for i in range(5):
        add(lead, due_in=-timedelta(minutes=10 - i), instruction=f"step {i}")

    assert dispatch() == 5

    assert len(opened) == 1 and opened[0].conn.closed
    assert not Notification.objects.filter(emailed_at__isnull=True).exists()
    assert FollowUp.objects.filter(reminded_at__isnull=False).count() == 5
    services.followup_dispatch_batch(now=timezone.now())  # outside a round: its own connection, closed
    assert len(opened) == 1  # nothing was due


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_marks_connection_that_broke_is_replaced_in_the_next_batch(committed_db, lead, policy, monkeypatch):
    from leadflow import emailmarks

    opened = []

    class CountedMarks(emailmarks.PipelinedMarks):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            opened.append(self)

    monkeypatch.setattr(emailmarks, "PipelinedMarks", CountedMarks)
    FollowUpPolicy.objects.update(batch_size=2)
    for i in range(4):
        add(lead, due_in=-timedelta(minutes=10 - i), instruction=f"step {i}")
    now = timezone.now()
    with emailmarks.keep_mark_connections():
        assert services.followup_dispatch_batch(now=now) == 2
        opened[0].conn.close()  # e.g. the database ended it between two batches
        assert services.followup_dispatch_batch(now=now) == 2
        assert len(opened) == 2 and not opened[1].conn.closed
    assert opened[1].conn.closed
    assert not Notification.objects.filter(emailed_at__isnull=True).exists()
    assert FollowUp.objects.filter(reminded_at__isnull=False).count() == 4
