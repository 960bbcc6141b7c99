"""The public web-to-lead form: /f/<slug>/."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from intake import services
from intake.models import WebForm, WebFormSubmission
from leads import services as lead_services
from leads.models import Activity, Lead, OwnerNotice
from tests.factories import make_lead

PERSON = {"name": "Ana Pérez", "email": "Ana@Example.com", "phone": "", "company": "Kite", "message": "Need 5 seats"}


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    cache.clear()


def _token(webform: WebForm, *, age: float = 10) -> str:
    """A token given out `age` seconds ago (long enough to pass the fill-time check)."""
    with time_machine.travel(time.time() - age, tick=False):
        return services.webform_token_issue(form=webform)


def _post(client, webform, data=None, *, token=None, **extra):
    payload = {**PERSON, **(data or {})}
    payload.setdefault("lf_t", token if token is not None else _token(webform))
    return client.post(reverse("intake:public_form", args=[webform.slug]), payload, **extra)


def _thanks(webform):
    return reverse("intake:public_thanks", args=[webform.slug])


def _drain() -> int:
    """What the worker does after the posts (the trigger's task, or the beat's catch-up)."""
    return services.webform_submissions_drain().processed


def test_the_form_shows_the_configured_fields_without_login(client, webform):
    WebForm.objects.filter(pk=webform.pk).update(phone_mode="required", company_mode="hidden")
    response = client.get(webform.get_absolute_url())
    assert response.status_code == 200
    form = response.context["form"]
    assert list(form.fields) == ["name", "email", "phone", "message"]
    assert form.fields["phone"].required and not form.fields["message"].required
    assert b'name="lf_hp"' in response.content and b'name="lf_t"' in response.content
    assert b"<script" not in response.content


def test_the_public_pages_read_the_form_in_one_query(client, webform, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert client.get(webform.get_absolute_url()).status_code == 200
    with django_assert_num_queries(1):
        assert client.get(_thanks(webform)).status_code == 200
    with django_assert_num_queries(1):  # a post without a token: the page again, with a notice
        assert _post(client, webform, token="").status_code == 200


def test_an_inactive_or_unknown_form_is_a_404(client, webform):
    assert client.get("/f/nope/").status_code == 404
    WebForm.objects.filter(pk=webform.pk).update(is_active=False)
    assert client.get(webform.get_absolute_url()).status_code == 404


def test_a_post_creates_an_assigned_lead_and_thanks_the_person(client, webform, rep, teammate):
    response = _post(client, webform)
    assert response.status_code == 302 and response["Location"] == _thanks(webform)
    # Accepted: the submission is saved with the cleaned fields; the lead is the drain's work.
    sub = WebFormSubmission.objects.get()
    assert sub.state == WebFormSubmission.State.PENDING and sub.lead is None
    assert sub.data["email"] == "ana@example.com" and not Lead.objects.exists()
    assert _drain() == 1
    lead = Lead.objects.get()
    sub.refresh_from_db()
    assert (sub.state, sub.lead, sub.outcome) == (WebFormSubmission.State.PROCESSED, lead, "created")
    assert (lead.email, lead.name, lead.company, lead.notes) == ("ana@example.com", "Ana Pérez", "Kite", "Need 5 seats")
    assert lead.owner in (rep, teammate) and lead.team == webform.team
    assert lead.source == webform.source
    assert client.get(response["Location"]).content.decode().count(webform.thank_you_text) == 1


def test_the_honeypot_is_dropped_silently(client, webform):
    response = _post(client, webform, {"lf_hp": "http://spam.example"})
    assert response.status_code == 302 and response["Location"] == _thanks(webform)
    assert not Lead.objects.exists() and not WebFormSubmission.objects.exists()


def test_a_form_sent_too_fast_is_dropped_silently(client, webform):
    response = _post(client, webform, token=_token(webform, age=0.5))
    assert response.status_code == 302 and response["Location"] == _thanks(webform)
    assert not Lead.objects.exists()


def test_a_post_without_a_valid_token_asks_to_send_again_with_values_kept(client, webform):
    for token in ["", "forged", services.webform_token_issue(form=webform) + "x"]:
        response = _post(client, webform, token=token)
        assert response.status_code == 200
        assert b"Please check your details" in response.content
        assert response.context["form"]["email"].value() == "Ana@Example.com"
        assert response.context["token"]
    assert not Lead.objects.exists()


def test_a_token_of_another_form_is_not_accepted(client, webform, team):
    from tests.factories import make_source

    other = WebForm.objects.create(source=make_source("Partner"), slug="partner", title="Partner", team=team)
    response = _post(client, webform, token=_token(other))
    assert response.status_code == 200 and not Lead.objects.exists()


def test_a_double_post_makes_one_lead(client, webform):
    token = _token(webform)
    first = _post(client, webform, token=token)
    _drain()
    second = _post(client, webform, token=token)  # after its lead was made, too
    _drain()
    assert first["Location"] == second["Location"] == _thanks(webform)
    assert Lead.objects.count() == 1 and WebFormSubmission.objects.count() == 1


def test_the_same_message_again_within_the_window_makes_one_lead(client, webform, settings):
    _post(client, webform)
    _post(client, webform)  # another token: the page was opened twice
    assert _drain() == 1
    assert Lead.objects.count() == 1 and WebFormSubmission.objects.count() == 1
    assert not Activity.objects.exists()
    settings.WEBFORM_IDEMPOTENCY_SECONDS = 0
    _post(client, webform)
    assert _drain() == 1
    assert Lead.objects.count() == 1  # after the window: the same person again is a new inquiry
    assert Activity.objects.filter(kind=Activity.Kind.NOTE).count() == 1


def test_the_rate_limit_answers_429(client, webform, settings):
    settings.WEBFORM_RATE_LIMIT = 3
    for i in range(3):
        assert _post(client, webform, {"email": f"p{i}@example.com"}).status_code == 302
    response = _post(client, webform, {"email": "p4@example.com"})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert WebFormSubmission.objects.count() == 3
    # Another address is not limited.
    assert _post(client, webform, {"email": "p5@example.com"}, REMOTE_ADDR="10.1.2.3").status_code == 302


def test_the_rate_limit_uses_the_trusted_proxy_address(client, webform, settings):
    settings.WEBFORM_RATE_LIMIT = 1
    settings.WEBFORM_TRUSTED_PROXIES = 1
    assert (
        _post(client, webform, {"email": "a@example.com"}, HTTP_X_FORWARDED_FOR="spoof, 203.0.113.5").status_code == 302
    )
    assert (
        _post(client, webform, {"email": "b@example.com"}, HTTP_X_FORWARDED_FOR="other, 203.0.113.5").status_code == 429
    )
    assert _post(client, webform, {"email": "c@example.com"}, HTTP_X_FORWARDED_FOR="203.0.113.6").status_code == 302


def test_an_oversized_post_is_refused_with_413(client, webform, settings):
    settings.WEBFORM_MAX_BYTES = 2000
    response = _post(client, webform, {"message": "x" * 3000})
    assert response.status_code == 413
    assert not WebFormSubmission.objects.exists()


def test_invalid_fields_are_shown_and_nothing_is_saved(client, webform):
    response = _post(client, webform, {"email": "not-an-email", "name": ""})
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"email", "name"}
    response = _post(client, webform, {"email": "ok@example.com", "phone": "12"})
    assert response.status_code == 400 and "phone" in response.context["form"].errors
    assert not WebFormSubmission.objects.exists()


def test_no_response_tells_an_outsider_whether_an_email_is_known(client, webform, rep, team, source):
    make_lead(owner=rep, team=team, source=source, email="known@example.com")

    def visible(response):
        follow = client.get(response["Location"])
        return response.status_code, response["Location"], follow.status_code, follow.content

    known = visible(_post(client, webform, {"email": "KNOWN@example.com"}))
    unknown = visible(_post(client, webform, {"email": "new-person@example.com"}))
    assert known == unknown
    assert _drain() == 2
    assert Lead.objects.count() == 2  # the known one got a new inquiry instead
    assert Activity.objects.filter(kind=Activity.Kind.NOTE).count() == 1


def test_the_confirmation_and_the_owner_notice_are_sent_after_commit(
    client, webform, eager_celery, django_capture_on_commit_callbacks
):
    WebForm.objects.filter(pk=webform.pk).update(
        confirmation_subject="Thanks, {{ name }}",
        confirmation_body="Hi {{ name }}, about “{{ message }}” via {{ form_title }}.",
    )
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, webform)
    confirmation = next(m for m in mail.outbox if m.to == ["ana@example.com"])
    assert confirmation.subject == "Thanks, Ana Pérez"
    assert confirmation.body == "Hi Ana Pérez, about “Need 5 seats” via Contact us."
    lead = Lead.objects.get()
    assert any(m.to == [lead.owner.email] for m in mail.outbox)
    sub = WebFormSubmission.objects.get()
    assert sub.confirmation == WebFormSubmission.Confirmation.SENT
    assert OwnerNotice.objects.get().sent_at is not None


def test_a_form_without_confirmation_sends_none(client, webform, eager_celery, django_capture_on_commit_callbacks):
    WebForm.objects.filter(pk=webform.pk).update(send_confirmation=False)
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, webform)
    assert not any(m.to == ["ana@example.com"] for m in mail.outbox)
    assert WebFormSubmission.objects.get().confirmation == WebFormSubmission.Confirmation.NOT_NEEDED


def test_while_redis_is_down_the_lead_is_saved_and_the_emails_follow_later(
    client, webform, broker_down, settings, django_capture_on_commit_callbacks
):
    """Broker and cache both unreachable (closed ports): the submission is saved and no drain
    could be asked for; the beat's catch-up makes the lead (received when it was posted), then
    the confirmation and the owner's notice are sent once."""
    settings.CACHES = {"default": {"BACKEND": "leadflow.cache.RedisCache", "LOCATION": "redis://127.0.0.1:6399/5"}}
    with time_machine.travel("2026-03-02 10:00:00+00:00", tick=False):
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            response = _post(client, webform)
    assert len(callbacks) == 1  # the drain trigger, which failed (logged)
    assert response.status_code == 302 and response["Location"] == _thanks(webform)
    sub = WebFormSubmission.objects.get()
    assert sub.state == WebFormSubmission.State.PENDING and sub.confirmation == WebFormSubmission.Confirmation.PENDING
    assert not Lead.objects.exists() and not OwnerNotice.objects.exists()
    assert mail.outbox == []
    # Nothing sends a confirmation for a lead not made yet.
    assert services.webform_confirmations_send() == 0

    # Redis is back: beat runs the catch-ups (here called as the worker would), a minute later.
    from intake.tasks import intake_catch_up
    from leads.tasks import owner_notices_catch_up_task

    with time_machine.travel("2026-03-02 10:01:00+00:00", tick=False):
        caught_up = intake_catch_up()
    assert caught_up["submissions_processed"] == 1 and caught_up["confirmations_sent"] == 1
    lead = Lead.objects.get()
    assert lead.owner is not None
    assert lead.received_at == sub.submitted_at == datetime(2026, 3, 2, 10, tzinfo=UTC)
    assert lead.sla.started_at == lead.received_at
    assert owner_notices_catch_up_task() == 1
    assert intake_catch_up()["confirmations_sent"] == 0 and owner_notices_catch_up_task() == 0
    assert sorted(m.to[0] for m in mail.outbox) == sorted(["ana@example.com", lead.owner.email])


def test_a_confirmation_is_sent_once_even_if_task_and_catch_up_race(
    webform, client, broker_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, webform)
    _drain()  # its task could not be queued either: the catch-up and a late task race
    sub = WebFormSubmission.objects.get()
    assert services.webform_confirmations_send(ids=[sub.pk]) == 1
    assert services.webform_confirmations_send(ids=[sub.pk]) == 0
    assert services.webform_confirmations_send() == 0
    assert len([m for m in mail.outbox if m.to == ["ana@example.com"]]) == 1


def test_one_address_gets_at_most_one_confirmation_per_interval(
    client, webform, broker_down, django_capture_on_commit_callbacks
):
    for message in ["one", "two", "three"]:
        with django_capture_on_commit_callbacks(execute=True):
            _post(client, webform, {"message": message})
    _drain()
    assert services.webform_confirmations_send() == 1
    assert WebFormSubmission.objects.filter(confirmation="skipped").count() == 2


def test_the_token_endpoint_can_be_read_from_another_site(client, webform):
    response = client.get(reverse("intake:public_token", args=[webform.slug]))
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert services.webform_token_read(form=webform, token=response.json()["token"]) is not None


def test_an_embedded_post_with_a_token_from_the_script_works(client, webform):
    token = client.get(reverse("intake:public_token", args=[webform.slug])).json()["token"]
    with time_machine.travel(time.time() + 5):
        response = _post(client, webform, token=token, HTTP_ORIGIN="https://www.customer.example")
    assert response.status_code == 302 and _drain() == 1 and Lead.objects.count() == 1


def test_the_admin_shows_the_public_link_and_the_embed_snippet(client, admin_user, webform):
    client.force_login(admin_user)
    response = client.get(reverse("admin:intake_webform_change", args=[webform.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "http://127.0.0.1:8000/f/contact/" in html
    assert "&lt;form action=&quot;http://127.0.0.1:8000/f/contact/&quot; method=&quot;post&quot;" in html
    assert "lf_hp" in html and "leadflow-embed.js" in html


def test_the_admin_refuses_a_form_nobody_could_answer(webform):
    from django.core.exceptions import ValidationError

    webform.email_mode = webform.phone_mode = WebForm.FieldMode.HIDDEN
    with pytest.raises(ValidationError):
        webform.full_clean()
    webform.email_mode = WebForm.FieldMode.REQUIRED
    webform.confirmation_body = "{% if %}"
    with pytest.raises(ValidationError) as exc:
        webform.full_clean()
    assert "confirmation_body" in exc.value.message_dict


@pytest.mark.postgres
def test_a_double_click_at_the_same_instant_makes_one_lead(committed_db, webform):
    """Two requests with the same token, truly concurrent: the token and content locks serialise them and
    the second finds the first's submission."""
    import threading

    from django.db import connection

    token = services.webform_token_read(form=webform, token=_token(webform))
    data = {"name": "Ana", "email": "ana@example.com", "phone": "", "company": "", "title": "", "notes": "Hi"}
    barrier, submissions = threading.Barrier(3), []

    def submit():
        try:
            barrier.wait()
            submissions.append(services.webform_submit(form=webform, data=data, token=token))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(submissions)) == 1 and len(submissions) == 3
    assert _drain() == 1
    assert Lead.objects.count() == 1 and WebFormSubmission.objects.count() == 1


@pytest.mark.postgres
def test_a_post_that_waited_for_the_content_lock_sees_what_committed_meanwhile(committed_db, webform):
    """The locks and the insert go in one round trip: the insert must read after the locks are
    held. Another transaction holds the content's lock and commits the same content (another
    token) while this post waits for it: the post returns that submission, it makes none."""
    import threading

    from django.db import connection, transaction

    from leadflow.locks import xact_locks

    data = {"name": "Ana", "email": "ana@example.com", "phone": "", "company": "", "title": "", "notes": "Hi"}
    fingerprint = services._fingerprint(webform, lead_services.intake_clean(data))
    locked, release, result = threading.Event(), threading.Event(), {}

    def holder():
        try:
            with transaction.atomic():
                xact_locks([f"webform-content:{fingerprint}"])
                result["first"] = WebFormSubmission.objects.create(
                    form=webform, token="other-token", fingerprint=fingerprint, data={}, name="Ana",
                    submitted_at=timezone.now(),
                ).pk  # fmt: skip
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    def post():
        try:
            token = services.WebFormToken(nonce="this-token", issued_at=time.time())
            result["second"] = services.webform_submit(form=webform, data=data, token=token)
        finally:
            connection.close()

    threads = [threading.Thread(target=holder), threading.Thread(target=post)]
    threads[0].start()
    assert locked.wait(10)
    threads[1].start()
    time.sleep(0.5)  # the post is waiting for the lock now
    assert "second" not in result
    release.set()
    for t in threads:
        t.join(10)
    assert result["second"] == result["first"] and WebFormSubmission.objects.count() == 1


def test_the_posts_insert_writes_what_the_model_would(webform):
    """The post's INSERT is written by hand (one statement with the idempotency check): every
    column it leaves out must be one whose model default is what the table then holds (NULL),
    so a new field with another default fails here until the insert writes it."""
    token = services.WebFormToken(nonce="n1", issued_at=time.time())
    data = {"name": "Ana", "email": "ana@example.com", "phone": "", "company": "", "title": "", "notes": "Hi"}
    submission = WebFormSubmission.objects.get(pk=services.webform_submit(form=webform, data=data, token=token))
    clean = lead_services.intake_clean(data)
    expected = WebFormSubmission(
        form=webform, token="n1", fingerprint=services._fingerprint(webform, clean), data=clean, name="Ana",
        email="ana@example.com", message="Hi", submitted_at=submission.submitted_at,
        confirmation=WebFormSubmission.Confirmation.PENDING,
    )  # fmt: skip
    for field in WebFormSubmission._meta.concrete_fields:
        if not field.primary_key:
            assert getattr(submission, field.attname) == getattr(expected, field.attname), field.name


def test_the_public_post_runs_a_fixed_handful_of_queries(client, webform, django_assert_num_queries):
    """Accept, then process: the form, the idempotency locks and look-up, the insert. Nothing of
    the lead's (dedupe, assignment, clock, follow-ups, notices) runs while the person waits."""

    token = _token(webform)
    # The form; the token and content locks (PostgreSQL only: SQLite's writers are serialised
    # anyway) with the insert unless an earlier post by token or content exists, one round
    # trip (in production that is the whole transaction: no BEGIN or COMMIT of its own).
    with django_assert_num_queries(2):
        response = _post(client, webform, token=token)
    assert response.status_code == 302
    assert WebFormSubmission.objects.get().state == WebFormSubmission.State.PENDING
