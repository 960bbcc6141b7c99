"""Exactly-once as the user sees it, with real `celery worker` and `celery beat` processes, real
Redis and PostgreSQL: two beats and three workers, a worker killed mid-batch, Redis killed and
restarted while leads come in, and a day of downtime. Each test counts the emails (by Message-ID)
and the in-app notifications the processes produced."""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from followups.emails import message_id_for
from followups.models import FollowUp, FollowUpPolicy, Kind, Notification
from leads.models import Lead
from tests.conftest import skip_or_fail
from tests.factories import make_lead, make_source

from .conftest import make_cadence
from .mailbox import message_ids
from .processes import DEFAULT_REDIS_URL, Cluster, PrivateRedis, redis_reachable, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _committed(committed_db):
    """The worker processes read committed rows (and the roles must survive earlier flushes)."""


@pytest.fixture
def redis_url():
    url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    if not redis_reachable(url):
        skip_or_fail(f"needs Redis at {url}")
    return url


@pytest.fixture
def cluster(tmp_path, redis_url):
    c = Cluster(tmp_path, redis_url=redis_url)
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture
def lead(lead, rep):
    """Lena, contacted already: the speed-to-lead clock stays out of the counts."""
    from leads.services import activity_log

    activity_log(lead=lead, by=rep, kind="call", outcome="First call")
    return lead


@pytest.fixture
def small_batches(db):
    """Small batches, so several workers share one tick's work and races are likely."""
    policy = FollowUpPolicy.load()
    policy.batch_size = 10
    policy.save()
    return policy


def seed(lead, *, due: list, instruction: str = "call") -> list[FollowUp]:
    rows = [
        FollowUp(lead=lead, owner=lead.owner, due_at=at, kind=Kind.CALL, instruction=f"{instruction} {i}")
        for i, at in enumerate(due)
    ]
    return FollowUp.objects.bulk_create(rows)


def all_reminded() -> bool:
    return not FollowUp.objects.filter(state="pending", reminded_at__isnull=True).exists()


def assert_each_notified_once(cluster: Cluster, expected_notifications: int, *, tolerated_resends: int = 0) -> None:
    """The bell shows each exactly once; every email arrived, and only a resend after a kill may repeat
    one (same Message-ID: the reader's client shows it once)."""
    keys = list(Notification.objects.values_list("key", flat=True))
    assert len(keys) == expected_notifications
    sent = message_ids(cluster.mail_dir)
    assert {i.decode() for i in sent} == {message_id_for(k) for k in keys}
    assert len(sent) - len(set(sent)) <= tolerated_resends, f"{len(sent) - len(set(sent))} resent"
    assert not Notification.objects.filter(emailed_at__isnull=True).exists()


def test_two_beats_and_three_workers_deliver_every_reminder_exactly_once(cluster, lead, small_batches):
    now = timezone.now()
    # 60 due already, then 240 falling due over the next 12 seconds while everything runs.
    rows = seed(lead, due=[now - timedelta(minutes=i) for i in range(60)])
    rows += seed(lead, due=[now + timedelta(milliseconds=50 * i) for i in range(240)], instruction="later")
    try:
        for name in ("beat-1", "beat-2"):
            cluster.beat(name)
        for name in ("worker-1", "worker-2", "worker-3"):
            cluster.worker(name)
        wait_for(lambda: timezone.now() > rows[-1].due_at and all_reminded(), timeout=90, what="all reminders")
        time.sleep(3)  # more ticks from both beats: nothing may be sent again
    except AssertionError:
        print(cluster.logs())
        raise
    finally:
        cluster.stop()

    assert_each_notified_once(cluster, 300)
    assert set(FollowUp.objects.values_list("attempts", "claim_token")) == {(0, None)}


def test_a_worker_killed_mid_batch_loses_nothing_and_doubles_nothing(cluster, lead, small_batches):
    seed(lead, due=[timezone.now() - timedelta(seconds=i) for i in range(150)])
    try:
        cluster.beat("beat")
        # Each email takes 30 ms: the batch is still being sent when the kill comes.
        cluster.worker("doomed", LEADFLOW_TEST_MAIL_DELAY="0.03")
        wait_for(lambda: len(message_ids(cluster.mail_dir)) >= 25, timeout=60, what="the first emails")
        wait_for(lambda: FollowUp.objects.filter(claim_token__isnull=False).exists(), timeout=10, what="a claim")
        cluster.kill("doomed")  # SIGKILL to the worker and its pool child
        held = FollowUp.objects.filter(claim_token__isnull=False).count()
        assert held > 0, "the worker was not holding a batch when it died"
        sent_before = len(set(message_ids(cluster.mail_dir)))
        assert sent_before < 150

        cluster.worker("replacement")
        wait_for(all_reminded, timeout=60, what="the rest after the lease ran out")
        time.sleep(2)
    except AssertionError:
        print(cluster.logs())
        raise
    finally:
        cluster.stop()

    # At most one email can be in flight when the kill lands; it is resent with the same Message-ID.
    assert_each_notified_once(cluster, 150, tolerated_resends=1)
    assert not FollowUp.objects.filter(claim_token__isnull=False).exists()


def test_leads_saved_while_redis_is_down_get_their_reminders_once_it_is_back(
    tmp_path, client, rep, team, policy_with_now_cadence
):
    if not PrivateRedis.available():
        skip_or_fail("needs redis-server on PATH to run a private Redis")
    private = PrivateRedis(tmp_path)
    private.start()
    cluster = Cluster(tmp_path, redis_url=private.url)
    source = make_source("Web form")
    lead = make_lead(owner=rep, team=team, source=source)  # its "call now" step is due at once
    from leadflow.celery import app

    saved_broker = app.conf.broker_url
    try:
        cluster.beat("beat")
        cluster.worker("worker-1")
        cluster.worker("worker-2")
        wait_for(
            lambda: Notification.objects.filter(text__contains=lead.name).exists(), timeout=60, what="a first reminder"
        )

        private.stop()  # Redis dies
        # This process publishes to the dead Redis too: every enqueue fails, fast.
        app.conf.broker_url = private.url
        app._pool = None
        app.amqp._producer_pool = None
        client.force_login(rep)
        started = time.monotonic()
        for i in range(3):
            response = client.post(
                reverse("leads:create"),
                {"name": f"Outage Lead {i}", "email": f"outage{i}@example.com", "source": source.pk, "team": team.pk},
            )
            assert response.status_code == 302, response.content[:500]
        # Each enqueue gives up after broker_connection_timeout (2 s); the request still succeeds.
        assert time.monotonic() - started < 15
        assert Lead.objects.filter(name__startswith="Outage Lead").count() == 3
        seed(
            lead, due=[timezone.now() + timedelta(seconds=1 + i * 0.1) for i in range(20)], instruction="during outage"
        )
        time.sleep(3)  # they fall due while Redis is down

        private.start()  # an empty Redis: every queued tick is gone; the database still knows
        wait_for(all_reminded, timeout=90, what="the reminders after Redis came back")
        time.sleep(3)
    except AssertionError:
        print(cluster.logs())
        raise
    finally:
        app.conf.broker_url = saved_broker
        app._pool = None
        app.amqp._producer_pool = None
        cluster.stop()
        private.stop()

    # 1 + 3 "call now" steps of the leads, and the 20 that fell due during the outage.
    assert_each_notified_once(cluster, 24)


def test_after_a_day_without_workers_each_overdue_reminder_goes_out_once(cluster, lead, manager, small_batches):
    policy = small_batches
    policy.escalation_hours = 4
    policy.save()
    now = timezone.now()
    # Workers were down for 24 h: 96 follow-ups fell due meanwhile, one every 15 minutes; the 81
    # due 4 h ago or more are also overdue for the manager.
    seed(lead, due=[now - timedelta(minutes=15 * (i + 1)) for i in range(96)])
    overdue_for_manager = sum(1 for i in range(96) if 15 * (i + 1) >= 4 * 60)
    from followups.tasks import dispatch_due_followups

    app = dispatch_due_followups.app
    saved = app.conf.broker_url, app.conf.task_default_queue
    try:
        # The ticks beat sent while no worker listened: piled up in the queue, expired by now.
        app.conf.broker_url = cluster.redis_url
        app._pool = None
        app.amqp._producer_pool = None
        for _ in range(30):
            dispatch_due_followups.apply_async(queue=cluster.queue, expires=1)
        time.sleep(1.5)

        cluster.beat("beat")
        cluster.worker("worker-1")
        cluster.worker("worker-2")
        wait_for(
            lambda: (
                all_reminded() and FollowUp.objects.filter(escalated_at__isnull=False).count() == overdue_for_manager
            ),
            timeout=90,
            what="the catch-up",
        )
        time.sleep(3)
    except AssertionError:
        print(cluster.logs())
        raise
    finally:
        app.conf.broker_url, app.conf.task_default_queue = saved
        app._pool = None
        app.amqp._producer_pool = None
        cluster.stop()

    assert Notification.objects.filter(kind="reminder").count() == 96
    assert Notification.objects.filter(kind="escalation", user=manager).count() == overdue_for_manager
    assert_each_notified_once(cluster, 96 + overdue_for_manager)


@pytest.fixture
def policy_with_now_cadence(db):
    from followups.models import CadenceStep

    make_cadence(Lead.Stage.LEAD, [(0, CadenceStep.Unit.HOURS, Kind.CALL)])
    return FollowUpPolicy.load()
