"""Real-browser tests: Playwright drives Debian's chromium against pytest-django's live server.

No browser is downloaded: `.ci/run` installs the `chromium` package and we point Playwright at
it. Screenshots go to test-artifacts/ (one per main page, and one on any failure).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.conftest import skip_or_fail

# Playwright's sync API runs an event loop in this thread; the ORM calls our tests make around
# it are synchronous and safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("LEADFLOW_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        skip_or_fail(f"needs chromium at {CHROMIUM} (apt-get install chromium)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(autouse=True)
def _committed(committed_db):
    """The live server reads committed data. The flush between such tests also empties the
    disqualification reasons the data migration made (committed_db restores the roles)."""
    from django.apps import apps

    from qualification.defaults import install_default_reasons

    install_default_reasons(apps)


@pytest.fixture
def small_demo(db):
    """Demo users, team, sources, reasons and criteria v1 with a short queue (24 leads, some with
    calls): the full seed_demo costs seconds per test, and journeys make their own leads."""
    call_command("seed_demo", leads=24, verbosity=0)


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # A common laptop screen.
    return {**browser_context_args, "viewport": {"width": 1366, "height": 768}}


@pytest.fixture
def shot(page):
    """shot("name") saves a full-page PNG under test-artifacts/screens/."""
    folder = ARTIFACTS / "screens"
    folder.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = folder / f"{name}.png"
        # From the top, and away from any button: sticky panels then sit where a reader first sees
        # them, and no hover transition is caught half-way.
        page.evaluate("window.scrollTo(0, 0)")
        page.mouse.move(0, 0)
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed and "page" in item.funcargs:
        folder = ARTIFACTS / "failures"
        folder.mkdir(parents=True, exist_ok=True)
        try:
            item.funcargs["page"].screenshot(path=str(folder / f"{item.name}.png"), full_page=True)
        except Exception:  # the page may be gone; the failure itself is what matters
            pass


def login(page, live_server, username: str, password: str = "leadflow-demo") -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/leads/**")
