"""A rep and a manager use the lead pipeline in a real browser."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from leads.models import Lead
from tests.e2e.conftest import login

# The live server reads committed data, so these tests commit (and the database is flushed after each).
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(db):
    call_command("seed_demo", verbosity=0)


def test_a_rep_adds_a_lead_finds_it_first_in_the_queue_and_logs_a_call(page, live_server, demo, shot):
    login(page, live_server, "ana")
    shot("rep-queue")

    page.get_by_role("link", name="New lead").first.click()
    page.get_by_label("Name").fill("Paula Browser")
    page.get_by_label("Email").fill("paula@browser.example")
    page.get_by_label("Company").fill("Headless Inc")
    page.get_by_label("Source").select_option(label="Website form")
    shot("new-lead")
    page.get_by_role("button", name="Save lead").click()
    page.get_by_text("Lead “Paula Browser” saved.").wait_for()

    # Newest uncontacted lead is the freshest: the oldest uncontacted ones come before it, but it
    # is on the first page of the queue among the uncontacted.
    page.get_by_role("link", name="My leads").click()
    row = page.get_by_role("row").filter(has_text="Paula Browser")
    assert "not contacted" in row.inner_text()

    row.get_by_role("link", name="Paula Browser").click()
    # (The follow-up "done" forms on the page have their own "what happened" fields.)
    page.locator("#id_outcome").fill("Called, booked a discovery call for Tuesday")
    page.get_by_role("button", name="Log activity").click()
    page.get_by_text("Activity logged.").wait_for()
    shot("lead-detail")

    lead = Lead.objects.get(email="paula@browser.example")
    assert lead.first_contacted_at is not None
    assert lead.owner.username == "ana"


def test_a_manager_sees_the_team_and_reassigns_a_lead(page, live_server, demo, shot):
    login(page, live_server, "maria")
    shot("manager-queue")
    lead = Lead.objects.filter(owner__username="ana", stage="lead").order_by("id").first()

    page.goto(f"{live_server.url}{lead.get_absolute_url()}")
    page.get_by_role("link", name="Reassign").click()
    page.get_by_label("New owner").select_option(label="Ben Brooks")
    page.get_by_label("Reason").fill("Ana is on holiday")
    page.get_by_role("button", name="Reassign").click()
    page.get_by_text("now belongs to Ben Brooks").wait_for()

    lead.refresh_from_db()
    assert lead.owner.username == "ben"


def test_a_rep_cannot_open_another_reps_lead(page, live_server, demo):
    lead = Lead.objects.filter(owner__username="ben").first()
    login(page, live_server, "ana")
    response = page.goto(f"{live_server.url}{lead.get_absolute_url()}")
    assert response.status == 404
