"""axe-core (from npm) checks the main pages in chromium: no serious or critical violation."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from leads.models import Lead
from qualification.models import DisqualificationReason, HelpfulClose
from tests.e2e.conftest import ARTIFACTS, login

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture
def a11y_page(browser):
    # Only the checker is injected, so only this context may bypass the page's CSP.
    context = browser.new_context(bypass_csp=True, viewport={"width": 1366, "height": 768})
    yield context.new_page()
    context.close()


def serious_violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_main_pages_have_no_serious_accessibility_violations(a11y_page, live_server):
    call_command("seed_demo", verbosity=0)
    ana_leads = Lead.objects.filter(owner__username="ana", stage=Lead.Stage.LEAD).order_by("id")
    lead = ana_leads.first()
    uncalled = ana_leads.filter(discovery_calls__isnull=True).first()
    called = ana_leads.filter(discovery_calls__isnull=False).first()
    close = HelpfulClose.objects.filter(owner__username="ana", sent_at__isnull=True).first()
    reason = DisqualificationReason.objects.get(code="other")
    page = a11y_page
    found = {}

    page.goto(f"{live_server.url}/accounts/login/")
    found["login"] = serious_violations(page)
    login(page, live_server, "ana")
    for name, path in [
        ("queue", "/leads/"),
        ("new-lead", "/leads/new/"),
        ("lead-detail", lead.get_absolute_url()),
        ("lead-detail-with-calls", called.get_absolute_url()),
        ("edit-lead", f"/leads/{lead.pk}/edit/"),
        ("password", "/accounts/password/"),
        # Qualification
        ("discovery-call", reverse("qualification:call_new", args=[uncalled.pk])),
        ("discovery-call-with-recap", reverse("qualification:call_new", args=[called.pk])),
        ("disqualify", reverse("qualification:disqualify", args=[lead.pk])),
        ("not-now", reverse("qualification:nurture", args=[lead.pk])),
        ("helpful-close", reverse("qualification:helpful_close", args=[close.pk])),
    ]:
        page.goto(f"{live_server.url}{path}")
        found[name] = serious_violations(page)

    # Error states: a call with an amount missing; the gate refusing a lead whose call fails.
    page.goto(f"{live_server.url}{reverse('qualification:call_new', args=[uncalled.pk])}")
    page.get_by_label("They named an amount").check()
    page.get_by_role("button", name="Save call").click()
    page.get_by_text("The call was not saved").wait_for()
    found["discovery-call-errors"] = serious_violations(page)
    page.goto(f"{live_server.url}{called.get_absolute_url()}")
    page.locator("summary", has_text="Move to Prospect").click()
    page.get_by_role("button", name="Confirm: Prospect").click()
    page.get_by_text("what is missing").wait_for()
    found["lead-detail-gate-refused"] = serious_violations(page)

    page.context.clear_cookies()
    login(page, live_server, "admin")
    for name, path in [
        ("criteria-settings", reverse("qualification:criteria")),
        ("reasons", reverse("qualification:reasons")),
        ("reason-form", reverse("qualification:reason_edit", args=[reason.pk])),
    ]:
        page.goto(f"{live_server.url}{path}")
        found[name] = serious_violations(page)

    report = {name: v for name, v in found.items() if v}
    if report:
        (ARTIFACTS / "axe-report.txt").write_text(repr(report))
    assert report == {}
