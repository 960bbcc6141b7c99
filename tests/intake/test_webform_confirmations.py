"""The confirmation emails of web-form submissions, a batch at a time
(intake.services.webform_confirmations_send)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from intake import services
from intake.models import DEFAULT_CONFIRMATION_SUBJECT, WebFormSubmission
from tests.intake.test_webform_drain import _submission

Confirmation = WebFormSubmission.Confirmation


def _processed(webform, n: int) -> list[WebFormSubmission]:
    """n submissions whose lead was made and whose confirmation is owed."""
    subs = [_submission(webform, i) for i in range(n)]
    WebFormSubmission.objects.update(state=WebFormSubmission.State.PROCESSED, confirmation=Confirmation.PENDING)
    return subs


def test_a_batchs_confirmations_go_out_together_each_once(webform):
    subs = _processed(webform, 4)
    assert services.webform_confirmations_send(ids=[s.pk for s in subs]) == 4
    assert sorted(m.to[0] for m in mail.outbox) == [f"person{i}@example.com" for i in range(4)]
    assert {m.extra_headers["Message-ID"] for m in mail.outbox} == {
        f"<webform-confirmation-{s.pk}@leadflow>" for s in subs
    }
    assert {m.subject for m in mail.outbox} == {DEFAULT_CONFIRMATION_SUBJECT}
    rows = WebFormSubmission.objects.all()
    assert {(r.confirmation, r.confirmation_attempts) for r in rows} == {(Confirmation.SENT, 1)}
    assert all(r.confirmation_sent_at is not None for r in rows)
    assert services.webform_confirmations_send(ids=[s.pk for s in subs]) == 0  # nothing owed any more
    assert services.webform_confirmations_send() == 0 and len(mail.outbox) == 4


def test_a_submission_still_in_the_inbox_is_not_confirmed(webform):
    sub = _submission(webform, 1)
    WebFormSubmission.objects.update(confirmation=Confirmation.PENDING)  # its lead is not made yet
    assert services.webform_confirmations_send(ids=[sub.pk]) == 0
    assert mail.outbox == [] and WebFormSubmission.objects.get().confirmation_attempts == 0


def test_a_refusing_mail_server_leaves_them_to_retry_and_the_last_attempt_fails_them(webform, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # nothing listens
    subs = _processed(webform, 2)
    assert services.webform_confirmations_send() == 0
    rows = list(WebFormSubmission.objects.order_by("id"))
    assert {(r.confirmation, r.confirmation_attempts) for r in rows} == {(Confirmation.PENDING, 1)}
    assert all(r.confirmation_claimed_until > timezone.now() for r in rows)
    assert services.webform_confirmations_send() == 0  # still claimed: nobody else tries now
    WebFormSubmission.objects.filter(pk=subs[0].pk).update(confirmation_attempts=services.CONFIRMATION_MAX_ATTEMPTS - 1)
    with time_machine.travel(timezone.now() + services.CONFIRMATION_LEASE + timedelta(seconds=1)):
        assert services.webform_confirmations_send() == 0
    first, second = WebFormSubmission.objects.order_by("id")
    assert first.confirmation == Confirmation.FAILED
    assert (second.confirmation, second.confirmation_attempts) == (Confirmation.PENDING, 2)


@pytest.mark.postgres
def test_outside_a_transaction_each_mark_is_committed_on_a_second_connection(committed_db, webform):
    """The worker's case on PostgreSQL: the marks are pipelined (leadflow.emailmarks)."""
    subs = _processed(webform, 3)
    assert services.webform_confirmations_send() == 3
    assert len(mail.outbox) == 3
    assert set(WebFormSubmission.objects.values_list("confirmation", flat=True)) == {Confirmation.SENT}
    assert services.webform_confirmations_send(ids=[s.pk for s in subs]) == 0
