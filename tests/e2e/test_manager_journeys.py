"""The manager in a real browser: from a dashboard number to the leads behind it, and a cooling
lead handed to another rep who then finds it in their queue."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEvent
from leads.models import Assignment, Lead
from leads.services import lead_create
from tests.e2e.conftest import login

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _untouched_lead(username: str, *, name: str, company: str, days: int) -> Lead:
    """A lead received `days` ago that nobody has touched since: cooling after 3 days."""
    owner = User.objects.get(username=username)
    source = Lead._meta.get_field("source").related_model.objects.get(name="Website form")
    return lead_create(
        by=owner,
        name=name,
        email=f"{name.split()[0].lower()}@{company.split()[0].lower()}.example",
        company=company,
        source=source,
        team=owner.memberships.get().team,
        owner=owner,
        received_at=timezone.now() - timedelta(days=days),
    )


def _active_tab_count(page) -> int:
    return int(page.locator(".filter-bar .nav-link.active .count").inner_text())


def test_journey_manager_drills_into_the_funnel_and_reassigns_a_cooling_lead(page, live_server, small_demo, shot):
    lead = _untouched_lead("ana", name="Olga Frost", company="Frost Logistics", days=6)

    login(page, live_server, "maria")
    page.get_by_role("link", name="Dashboard").click()
    page.get_by_role("heading", name="Pipeline dashboard").wait_for()
    shot("journey4-01-dashboard")

    # Every number opens the leads behind it: the list shows exactly that many. The funnel's first
    # row (every lead received in the range), and the going-cold count.
    funnel_leads = (
        page.locator("#funnel tbody").first.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Lead"))
    )
    going_cold = page.locator(".kpi").filter(has_text="Going cold now")
    for name, link in [
        ("funnel", funnel_leads.locator("a.num").first),
        ("going-cold", going_cold.locator("a.num").first),
    ]:
        shown = int(link.inner_text())
        assert shown > 0, f"the demo data should have leads behind the {name} number"
        link.click()
        page.wait_for_url(re.compile(r"/leads/\?"))
        assert _active_tab_count(page) == shown
        pages = page.locator(".pagination")
        rows = page.locator("table.queue-table > tbody > tr")
        if shown <= 25:
            assert pages.count() == 0 or "of 1" in pages.inner_text()
            assert rows.count() == shown
        else:
            assert rows.count() == 25 and f"of {-(-shown // 25)}" in pages.inner_text()
        if name == "going-cold":
            assert page.get_by_role("row").filter(has_text="Olga Frost").count() == 1
            assert page.locator("#drill-summary").is_visible()
            shot("journey4-02-going-cold-drill-down")
        page.go_back()

    # The going-cold panel lists Olga Frost (six days without a touch); maria gives her to Ben.
    cooling = page.locator("#cooling")
    cooling.scroll_into_view_if_needed()
    assert cooling.get_by_role("row").filter(has_text="Olga Frost").count() == 1
    cooling.get_by_label("Select Olga Frost").check()
    ben = User.objects.get(username="ben")
    cooling.get_by_label("Give the selected leads to").select_option(value=str(ben.pk))
    cooling.get_by_label("Reason").fill("Ana is at the trade fair this week")
    cooling.get_by_role("button", name="Reassign selected").click()
    page.get_by_text("1 lead(s) now belong to").wait_for()
    shot("journey4-03-reassigned")

    lead.refresh_from_db()
    assert lead.owner == ben
    assignment = Assignment.objects.filter(lead=lead).order_by("-id").first()
    assert assignment.to_owner == ben
    assert AuditEvent.objects.filter(action=AuditEvent.Action.REASSIGN).exists()

    # Ben logs in: Olga Frost is in his queue, and no longer in Ana's.
    page.context.clear_cookies()
    login(page, live_server, "ben")
    row = page.get_by_role("row").filter(has_text="Olga Frost")
    assert row.count() == 1
    shot("journey4-04-new-owner-queue")
    row.get_by_role("link", name="Olga Frost").click()
    page.get_by_role("heading", name=re.compile("Olga Frost")).wait_for()

    page.context.clear_cookies()
    login(page, live_server, "ana")
    assert page.get_by_role("row").filter(has_text="Olga Frost").count() == 0
