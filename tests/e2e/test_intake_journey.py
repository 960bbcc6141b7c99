"""A visitor fills in the public web-to-lead form; the lead lands, routed, in a rep's queue."""

from __future__ import annotations

import pytest

from leads.models import Assignment, Lead
from tests.e2e.conftest import login

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_journey_visitor_submits_the_web_form_and_the_routed_rep_sees_it(page, live_server, small_demo, shot, settings):
    # A person takes longer than this to fill the form in; faster posts are taken for bots and
    # silently dropped. One second keeps the check in the path without a slow test.
    settings.WEBFORM_MIN_FILL_SECONDS = 1

    # A visitor, not logged in, on the marketing site's contact form.
    page.goto(f"{live_server.url}/f/contact/")
    page.get_by_role("heading", name="Talk to our team").wait_for()
    page.get_by_label("Your name").fill("Greta Lindqvist")
    page.get_by_label("Email").fill("greta@lindqvist-design.example")
    page.get_by_label("Company").fill("Lindqvist Design")
    page.get_by_label("How can we help?").fill("We lose track of quote requests that come in by email.")
    shot("journey5-01-public-form")
    page.wait_for_timeout(1100)
    page.get_by_role("button", name="Send").click()
    page.wait_for_url("**/f/contact/thanks/")
    shot("journey5-02-thanks")

    # The form accepted the post; the worker's drain makes the lead (no worker runs here: called
    # as the task would, right after the post).
    from intake.services import webform_submissions_drain

    assert webform_submissions_drain().processed == 1

    lead = Lead.objects.select_related("owner", "source").get(email="greta@lindqvist-design.example")
    assert lead.source.name == "Website form"
    assert lead.stage == Lead.Stage.LEAD
    owner = lead.owner
    assert owner is not None and owner.username in ("ana", "ben", "carla")
    assignment = Assignment.objects.get(lead=lead)
    assert assignment.to_owner == owner and assignment.reason  # why this rep: the routing rule

    # The routed rep logs in: the new lead is in their queue, not contacted, its clock running.
    login(page, live_server, owner.username)
    row = page.get_by_role("row").filter(has_text="Greta Lindqvist")
    assert row.count() == 1
    assert "not contacted" in row.inner_text()
    assert row.locator(".sla-running").count() == 1
    shot("journey5-03-routed-rep-queue")
    row.get_by_role("link", name="Greta Lindqvist").click()
    page.get_by_text("We lose track of quote requests").wait_for()

    # The other reps do not see it.
    for other in {"ana", "ben", "carla"} - {owner.username}:
        page.context.clear_cookies()
        login(page, live_server, other)
        assert page.get_by_role("row").filter(has_text="Greta Lindqvist").count() == 0
