"""The dashboard's freshness line and "Refresh now" in a real browser, on the demo data, at
1366x768 (test-artifacts/screens/dashboard-as-of.png)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from dashboard.models import DashboardSnapshot
from tests.e2e.conftest import login

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_manager_sees_how_fresh_the_figures_are_and_refreshes_them_by_keyboard(page, live_server, shot):
    call_command("seed_demo", verbosity=0)
    login(page, live_server, "maria")
    page.goto(f"{live_server.url}{reverse('dashboard:index')}")
    line = page.locator(".dash-asof")
    assert "Figures as of" in line.inner_text() and "refreshed every 10 min" in line.inner_text()
    button = page.get_by_role("button", name="Refresh now")
    assert button.is_visible()
    box = line.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 1366
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    shot("dashboard-as-of")
    first = DashboardSnapshot.objects.get().computed_at
    button.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.startswith(f"{live_server.url}{reverse('dashboard:index')}")
    assert DashboardSnapshot.objects.get().computed_at > first
