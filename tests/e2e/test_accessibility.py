"""axe-core (from npm) checks the main pages in chromium: no serious or critical violation."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from leads.models import Lead
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
    lead = Lead.objects.filter(owner__username="ana").first()
    page = a11y_page
    found = {}

    page.goto(f"{live_server.url}/accounts/login/")
    found["login"] = serious_violations(page)
    login(page, live_server, "ana")
    for name, path in [
        ("queue", "/leads/"),
        ("new-lead", "/leads/new/"),
        ("lead-detail", lead.get_absolute_url()),
        ("edit-lead", f"/leads/{lead.pk}/edit/"),
        ("password", "/accounts/password/"),
    ]:
        page.goto(f"{live_server.url}{path}")
        found[name] = serious_violations(page)

    report = {name: v for name, v in found.items() if v}
    if report:
        (ARTIFACTS / "axe-report.txt").write_text(repr(report))
    assert report == {}
