"""The web form accepts, then processes: the drain that makes the leads of pending submissions
(intake.services.webform_submissions_drain)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection

from intake import services
from intake.models import WebForm, WebFormSubmission
from leads.models import Activity, Assignment, Lead, OwnerNotice, StageChange
from tests.factories import make_lead, make_source
from tests.intake.test_webform import _post, _token

POSTED = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday, in working hours


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    cache.clear()


def _submission(webform: WebForm, n: int, **data) -> WebFormSubmission:
    """A pending submission as webform_submit saves it (its data already cleaned)."""
    clean = {"name": f"Person {n}", "email": f"person{n}@example.com", "phone": "", "company": "", "title": ""}
    clean |= {"referred_by": "", "notes": "", **data}
    return WebFormSubmission.objects.create(
        form=webform,
        token=f"token-{n}",
        fingerprint=f"fp-{n}",
        data=clean,
        name=clean["name"],
        email=clean["email"],
        submitted_at=POSTED,
    )


def test_the_lead_is_received_when_the_person_posted_not_when_it_was_drained(client, webform):
    with time_machine.travel(POSTED, tick=False):
        assert _post(client, webform, token=_token(webform)).status_code == 302
    with time_machine.travel(POSTED + timedelta(minutes=3), tick=False):
        assert services.webform_submissions_drain().processed == 1
    sub = WebFormSubmission.objects.get()
    lead = sub.lead
    assert sub.submitted_at == POSTED and sub.processed_at == POSTED + timedelta(minutes=3)
    assert lead.received_at == lead.stage_changed_at == POSTED
    assert StageChange.objects.get(lead=lead).changed_at == POSTED
    assert lead.sla.started_at == POSTED  # the speed-to-lead clock did not lose the three minutes
    # The assignment says where the lead came from, as lead_intake's does.
    assert Assignment.objects.get(lead=lead).reason.startswith("web form “Contact us”: round robin")


def test_a_row_the_batch_rejects_is_marked_failed_with_its_error_and_the_others_are_made(
    webform, eager_celery, django_capture_on_commit_callbacks
):
    good = _submission(webform, 1)
    # Saved clean at the post, refused now (e.g. the rules changed meanwhile).
    bad = _submission(webform, 2, name="", email="not-an-email")
    other = _submission(webform, 3)
    WebFormSubmission.objects.filter(pk__in=[good.pk, bad.pk, other.pk]).update(confirmation="pending")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.webform_submissions_drain().processed == 3
    for sub in (good, bad, other):
        sub.refresh_from_db()
    assert (good.state, other.state, bad.state) == ("processed", "processed", "failed")
    assert good.lead and other.lead and bad.lead is None and bad.outcome == ""
    assert "Name: Give the person's name." in bad.error and "Email:" in bad.error
    assert Lead.objects.count() == 2
    # A failed submission is not confirmed (nobody was told a lead was made); the others are.
    assert sorted(m.to[0] for m in mail.outbox if m.to[0].startswith("person")) == [
        "person1@example.com",
        "person3@example.com",
    ]
    assert bad.confirmation == "pending"
    # Drained once: nothing is pending any more, a second drain does nothing.
    assert services.webform_submissions_drain().processed == 0


def test_a_retired_source_fails_its_forms_submissions_and_other_forms_go_on(webform, team):
    other_form = WebForm.objects.create(source=make_source("Partner"), slug="partner", title="Partner", team=team)
    retired = _submission(webform, 1)
    fine = _submission(other_form, 2)
    webform.source.is_active = False
    webform.source.save()
    assert services.webform_submissions_drain().processed == 2
    retired.refresh_from_db()
    fine.refresh_from_db()
    assert retired.state == "failed" and "no longer in use" in retired.error
    assert fine.state == "processed" and fine.lead.source == other_form.source

    # The admin puts the source back in use and processes the failed one again.
    webform.source.is_active = True
    webform.source.save()
    assert services.webform_submissions_retry(ids=[retired.pk, fine.pk]) == 1
    assert services.webform_submissions_drain().processed == 1
    retired.refresh_from_db()
    assert (retired.state, retired.error, retired.outcome) == ("processed", "", "created")
    assert retired.lead.received_at == retired.submitted_at


def test_owners_get_one_notice_per_batch_and_a_single_lead_reads_as_before(webform, rep, teammate):
    for n in range(3):
        _submission(webform, n)
    services.webform_submissions_drain()
    leads = list(Lead.objects.order_by("id"))
    by_owner: dict = {}
    for lead in leads:
        by_owner.setdefault(lead.owner, []).append(lead)
    assert sorted(len(v) for v in by_owner.values()) == [1, 2]  # round robin over two reps
    assert OwnerNotice.objects.count() == 2
    for owner, owned in by_owner.items():
        notice = OwnerNotice.objects.get(recipient=owner)
        if len(owned) == 1:
            reason = Assignment.objects.get(lead=owned[0]).reason
            assert notice.lead == owned[0]
            assert notice.text == f"New lead for you: {owned[0]} (web form, {reason})."
        else:
            assert notice.lead is None and notice.subject == "LeadFlow: 2 new leads"
            assert notice.text.startswith("2 new leads for you: ")
            assert all(str(lead) in notice.text for lead in owned)
            assert notice.text.endswith("(web form “Contact us”).")


def test_a_known_person_is_attached_with_the_note_dated_when_they_wrote(webform, rep, team, source):
    known = make_lead(
        owner=rep, team=team, source=source, email="person1@example.com", received_at=POSTED - timedelta(days=3)
    )
    _submission(webform, 1, notes="Still interested")
    with time_machine.travel(POSTED + timedelta(minutes=1), tick=False):
        services.webform_submissions_drain()
    sub = WebFormSubmission.objects.get()
    assert (sub.state, sub.outcome, sub.lead) == ("processed", "attached", known)
    note = Activity.objects.get(lead=known)
    assert note.occurred_at == POSTED and "Still interested" in note.outcome
    notice = OwnerNotice.objects.get()
    assert (notice.recipient, notice.lead) == (rep, known)
    assert notice.text == f"Person 1 got in touch again (web form) about lead “{known.name}”."


def test_two_posts_of_one_person_in_one_batch_make_one_lead_and_an_inquiry(webform):
    _submission(webform, 1)
    _submission(webform, 2, email="person1@example.com", name="Person One Again")
    services.webform_submissions_drain()
    first, second = WebFormSubmission.objects.order_by("id")
    assert (first.outcome, second.outcome) == ("created", "attached")
    assert first.lead == second.lead and Lead.objects.count() == 1


# --- PostgreSQL: concurrency and crashes, with committed rows -----------------------------------


def _wait(condition, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.postgres
def test_two_drains_at_once_never_process_a_submission_twice(committed_db, webform):
    """Three drains in three threads (three connections), small batches, started together:
    SKIP LOCKED gives each its own rows; every submission gets exactly one lead."""
    for n in range(60):
        _submission(webform, n)
    barrier, runs, errors = threading.Barrier(3), [], []

    def drain():
        try:
            barrier.wait()
            runs.append(services.webform_submissions_drain(batch_size=5).processed)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=drain) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sum(runs) == 60
    assert Lead.objects.count() == 60
    assert not WebFormSubmission.objects.exclude(state="processed").exists()
    assert WebFormSubmission.objects.values("lead").distinct().count() == 60
    assert StageChange.objects.count() == Assignment.objects.count() == 60


@pytest.mark.postgres
@pytest.mark.slow
def test_a_drain_killed_mid_batch_leaves_its_submissions_pending_and_the_next_makes_each_lead_once(
    committed_db, webform, other_team, tmp_path
):
    """A real process, SIGKILLed: its batch spans two forms (two teams); it has written the
    first team's leads and waits for the second team's row, which this test holds. Its
    transaction dies with it: nothing it wrote stays, its submissions are pending, and the next
    drain makes every lead once."""
    import psycopg2

    from tests.followups.processes import REPO, subprocess_database_url

    second = WebForm.objects.create(source=make_source("Partner"), slug="partner", title="Partner", team=other_team)
    # The drain locks team rows in id order: hold the later one.
    late_form, early_form = sorted([webform, second], key=lambda f: f.team_id, reverse=True)
    for n in range(4):
        _submission(early_form, n)
    for n in range(4, 8):
        _submission(late_form, n)

    url = subprocess_database_url()
    holder = psycopg2.connect(url)
    drain = None
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT id FROM accounts_team WHERE id = %s FOR UPDATE", [late_form.team_id])
        env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "leadflow.settings"}
        code = "from intake.services import webform_submissions_drain; webform_submissions_drain()"
        with open(tmp_path / "drain.log", "wb") as log:
            drain = subprocess.Popen(
                [sys.executable, "manage.py", "shell", "-c", code],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def backend_waiting() -> int | None:
            with holder.cursor() as cur:
                cur.execute("SELECT pg_stat_clear_snapshot()")  # fresh activity rows inside our transaction
                cur.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    " AND wait_event_type = 'Lock' AND query ILIKE '%%accounts_team%%'"
                )
                row = cur.fetchone()
            return row[0] if row else None

        _wait(
            lambda: backend_waiting() is not None or drain.poll() is not None,
            timeout=60,
            what="the drain to wait for the team row",
        )
        assert drain.poll() is None, (tmp_path / "drain.log").read_text()
        backend = backend_waiting()
        # Mid-batch: the first team's leads are written (not committed), the rows are claimed.
        assert Lead.objects.count() == 0
        assert WebFormSubmission.objects.filter(state="pending").count() == 8
        os.killpg(drain.pid, signal.SIGKILL)
        drain.wait(10)
        holder.rollback()  # the killed backend gets the row, finds its client gone, rolls back

        def backend_gone() -> bool:
            with holder.cursor() as cur:
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [backend])
                gone = cur.fetchone()[0] == 0
            holder.rollback()
            return gone

        _wait(backend_gone, timeout=30, what="the killed drain's connection to end")
    finally:
        if drain is not None and drain.poll() is None:
            os.killpg(drain.pid, signal.SIGKILL)
        holder.close()

    assert Lead.objects.count() == 0 and not StageChange.objects.exists()
    assert WebFormSubmission.objects.filter(state="pending").count() == 8
    assert services.webform_submissions_drain().processed == 8
    assert Lead.objects.count() == 8
    assert WebFormSubmission.objects.filter(state="processed").values("lead").distinct().count() == 8


@pytest.mark.postgres
def test_a_database_error_in_the_batch_retries_row_by_row_and_fails_only_that_row(webform):
    """A row the database refuses (here a trigger standing in for any constraint the rules do
    not know): the batch rolls back to its savepoint, then each row goes alone."""
    with connection.cursor() as cur:
        cur.execute(
            "CREATE FUNCTION test_refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.name = 'Boom' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$"
        )
        cur.execute(
            "CREATE TRIGGER refuse_boom BEFORE INSERT ON leads_lead FOR EACH ROW EXECUTE FUNCTION test_refuse_boom()"
        )
    subs = [_submission(webform, 1), _submission(webform, 2, name="Boom"), _submission(webform, 3)]
    assert services.webform_submissions_drain().processed == 3
    for sub in subs:
        sub.refresh_from_db()
    assert [s.state for s in subs] == ["processed", "failed", "processed"]
    assert subs[1].error == "Row: could not be saved (InternalError)."
    assert set(Lead.objects.values_list("name", flat=True)) == {"Person 1", "Person 3"}


def test_a_row_that_sets_off_a_bug_fails_alone_and_does_not_hold_up_the_ones_behind_it(webform, monkeypatch):
    """Fault injection: lead making raises a plain exception for one row's data (standing in for a
    bug). Without its own error that row would fail its batch at every drain, and the drain,
    oldest first, would never get past it."""
    from leads import services as lead_services

    make_leads = lead_services.lead_intake_many_cleaned

    def lead_intake_with_a_bug(*, cleaned, **kwargs):
        if any(row["name"] == "Bug" for row in cleaned):
            raise KeyError("a bug")
        return make_leads(cleaned=cleaned, **kwargs)

    monkeypatch.setattr(lead_services, "lead_intake_many_cleaned", lead_intake_with_a_bug)
    subs = [_submission(webform, 1), _submission(webform, 2, name="Bug"), _submission(webform, 3)]
    assert services.webform_submissions_drain().processed == 3
    for sub in subs:
        sub.refresh_from_db()
    assert [s.state for s in subs] == ["processed", "failed", "processed"]
    assert subs[1].error == "Row: could not be saved (KeyError)."
    assert set(Lead.objects.values_list("name", flat=True)) == {"Person 1", "Person 3"}
    _submission(webform, 4)  # the next drain takes the next one; the failed row waits for an admin
    assert services.webform_submissions_drain().processed == 1 and subs[1].state == "failed"


def test_an_admin_processes_failed_submissions_again_from_django_admin(client, admin_user, webform):
    from django.urls import reverse

    failed = _submission(webform, 1)
    WebFormSubmission.objects.filter(pk=failed.pk).update(state="failed", error="Source: no longer in use.")
    client.force_login(admin_user)
    url = reverse("admin:intake_webformsubmission_changelist")
    response = client.post(url, {"action": "process_again", "_selected_action": [failed.pk]}, follow=True)
    assert response.status_code == 200 and "queued again" in response.content.decode()
    failed.refresh_from_db()
    assert (failed.state, failed.error) == ("pending", "")
