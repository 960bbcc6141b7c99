"""The web form against a real Redis: the shared rate-limit count, and a Redis that goes away
and comes back while people post."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from datetime import datetime, timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from intake.models import WebFormSubmission
from leads.models import Lead, OwnerNotice
from tests.conftest import skip_or_fail
from tests.intake.test_webform import _post

OWN_REDIS_PORT = 6395  # this test's own server: the shared one on 6379 is never stopped


def _redis_cache(url: str) -> dict:
    return {"default": {"BACKEND": "leadflow.cache.RedisCache", "LOCATION": url}}


@pytest.mark.redis
def test_the_rate_limit_is_counted_in_redis(client, webform, settings):
    if not settings.REDIS_URL:
        skip_or_fail("needs Redis: set REDIS_URL=redis://127.0.0.1:6379/<db>")
    settings.CACHES = _redis_cache(settings.REDIS_URL)
    from django.core.cache import cache

    try:
        cache.clear()
    except Exception:
        skip_or_fail(f"Redis at {settings.REDIS_URL} is unreachable")
    settings.WEBFORM_RATE_LIMIT = 2
    assert _post(client, webform, {"email": "a@example.com"}).status_code == 302
    assert _post(client, webform, {"email": "b@example.com"}).status_code == 302
    assert _post(client, webform, {"email": "c@example.com"}).status_code == 429
    assert WebFormSubmission.objects.count() == 2
    cache.clear()


def _start_redis(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(50):
        if subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout.strip() == b"PONG":
            return proc
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("redis-server did not start")


def _stop_redis(port: int, proc: subprocess.Popen) -> None:
    subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True)
    proc.wait(timeout=10)


@pytest.mark.slow
@pytest.mark.redis
def test_posts_while_redis_goes_away_and_comes_back(
    client, webform, settings, celery_conf, django_capture_on_commit_callbacks
):
    if not shutil.which("redis-server"):
        skip_or_fail("needs redis-server")
    url = f"redis://127.0.0.1:{OWN_REDIS_PORT}/0"
    proc = _start_redis(OWN_REDIS_PORT)
    try:
        settings.CACHES = _redis_cache(url)
        celery_conf(
            task_always_eager=False,
            broker_url=url,
            broker_transport_options={"socket_connect_timeout": 1, "socket_timeout": 1, "max_retries": 0},
        )
        with django_capture_on_commit_callbacks(execute=True):
            assert _post(client, webform, {"email": "before@example.com"}).status_code == 302

        _stop_redis(OWN_REDIS_PORT, proc)
        started = time.monotonic()
        with django_capture_on_commit_callbacks(execute=True):
            response = _post(client, webform, {"email": "during@example.com"})
        assert response.status_code == 302 and response["Location"] == reverse("intake:public_thanks", args=["contact"])
        assert time.monotonic() - started < 10
        during = WebFormSubmission.objects.get(email="during@example.com")
        assert during.state == WebFormSubmission.State.PENDING
        assert during.confirmation == WebFormSubmission.Confirmation.PENDING

        proc = _start_redis(OWN_REDIS_PORT)
        with django_capture_on_commit_callbacks(execute=True):
            assert _post(client, webform, {"email": "after@example.com"}).status_code == 302
        assert WebFormSubmission.objects.count() == 3

        # Redis is back: the periodic catch-up makes the leads and sends what could not be
        # enqueued (and what the queued tasks would send, since no worker runs here), each
        # exactly once. The three leads were drained in one batch: one notice per owner.
        from intake.tasks import intake_catch_up
        from leads.tasks import owner_notices_catch_up_task

        caught_up = intake_catch_up()
        assert caught_up["submissions_processed"] == 3 and caught_up["confirmations_sent"] == 3
        assert Lead.objects.count() == 3
        owners = set(Lead.objects.values_list("owner", flat=True))
        assert owner_notices_catch_up_task() == len(owners) == OwnerNotice.objects.count()
        assert intake_catch_up()["confirmations_sent"] == 0
        assert not OwnerNotice.objects.filter(sent_at__isnull=True).exists()
        assert {m.to[0] for m in mail.outbox} >= {"before@example.com", "during@example.com", "after@example.com"}
    finally:
        _stop_redis(OWN_REDIS_PORT, proc)


@pytest.mark.redis
def test_a_burst_of_posts_asks_for_one_drain_until_the_drain_starts(
    client, webform, settings, celery_conf, django_capture_on_commit_callbacks
):
    """The debounce on the shared cache: posts committed while a drain is asked for and not
    started yet ask for none more (the drain they wait for reads after they committed); once
    the drain has started, the next post asks again. Counted in the real broker's queue."""
    if not settings.REDIS_URL:
        skip_or_fail("needs Redis: set REDIS_URL=redis://127.0.0.1:6379/<db>")
    import uuid

    import redis

    from intake import services

    settings.CACHES = _redis_cache(settings.REDIS_URL)
    queue = f"lf-test-debounce-{uuid.uuid4().hex[:8]}"
    celery_conf(task_always_eager=False, broker_url=settings.REDIS_URL, task_default_queue=queue)
    broker = redis.Redis.from_url(settings.REDIS_URL)
    try:
        from django.core.cache import cache

        cache.delete(services.DRAIN_TRIGGER_KEY)
        before = timezone.now()
        for i in range(5):
            with django_capture_on_commit_callbacks(execute=True):
                assert _post(client, webform, {"email": f"burst{i}@example.com"}).status_code == 302
        assert broker.llen(queue) == 1
        # Asked to start a second after the first post, so the drain takes the burst in one go.
        eta = datetime.fromisoformat(json.loads(broker.lindex(queue, 0))["headers"]["eta"])
        delay = timedelta(seconds=services.DRAIN_DEBOUNCE_SECONDS)
        assert before + delay <= eta <= timezone.now() + delay
        assert services.webform_submissions_drain().processed == 5  # the worker takes the message
        with django_capture_on_commit_callbacks(execute=True):
            assert _post(client, webform, {"email": "later@example.com"}).status_code == 302
        assert broker.llen(queue) == 2
        assert Lead.objects.count() == 5 and WebFormSubmission.objects.filter(state="pending").count() == 1
    finally:
        broker.delete(queue, f"_kombu.binding.{queue}")
