"""The weekly digest: headline numbers and cooling leads, once per manager and week."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail

from dashboard import tasks
from dashboard.models import DigestSent
from dashboard.services import digest_send
from leadflow.celery import app
from tests.dashboard.conftest import NOW


def test_the_digest_gives_last_weeks_numbers_and_the_cooling_leads(pipeline, manager):
    manager.email = "mona@example.com"
    manager.save()
    assert digest_send(manager=manager, now=NOW) is True
    assert len(mail.outbox) == 1
    msg = mail.outbox[0]
    assert msg.to == ["mona@example.com"]
    # Week 03-09 … 03-15: L5 and L6 arrived; L4 and L5 became prospects; L8, L7, L4 are cooling.
    assert msg.subject == "LeadFlow weekly: 2 new leads, 2 to prospect, 3 going cold"
    assert "L8" in msg.body and "L7" in msg.body and "L4" in msg.body
    assert "/leads/" in msg.body and "/dashboard/" in msg.body
    assert msg.alternatives and "Open the dashboard" in msg.alternatives[0][0]
    assert "L9" not in msg.body  # another team's lead


def test_the_digest_is_sent_once_per_week_even_if_asked_twice(pipeline, manager):
    manager.email = "mona@example.com"
    manager.save()
    assert digest_send(manager=manager, now=NOW) is True
    assert digest_send(manager=manager, now=NOW + timedelta(hours=1)) is False
    assert len(mail.outbox) == 1
    assert DigestSent.objects.get(manager=manager).sent_at is not None
    assert digest_send(manager=manager, now=NOW + timedelta(days=7)) is True  # next week
    assert len(mail.outbox) == 2


def test_a_failed_send_releases_the_claim_so_the_retry_sends_it(pipeline, manager, settings, monkeypatch):
    manager.email = "mona@example.com"
    manager.save()

    def boom(self, *a, **k):
        raise OSError("mail server down")

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", boom)
    with pytest.raises(OSError):
        digest_send(manager=manager, now=NOW)
    assert not DigestSent.objects.exists()
    monkeypatch.undo()
    assert digest_send(manager=manager, now=NOW) is True
    assert len(mail.outbox) == 1


def test_the_weekly_task_mails_every_manager_with_an_email(pipeline, manager, other_manager, rep, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    app.conf.task_always_eager = True
    try:
        manager.email, other_manager.email = "mona@example.com", ""
        manager.save()
        other_manager.save()
        assert tasks.digests_send_weekly.delay().get() == 1
    finally:
        app.conf.task_always_eager = False
    assert [m.to for m in mail.outbox] == [["mona@example.com"]]


def test_every_beat_entry_names_a_registered_task_and_expires():
    from django.conf import settings

    assert "dashboard-weekly-digest" in settings.CELERY_BEAT_SCHEDULE
    app.loader.import_default_modules()  # what a worker does at start: every app's tasks module
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks
        assert entry["options"]["expires"] > 0
