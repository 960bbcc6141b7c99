"""A screenshot of every main page on the full demo data, as a rep, a manager and an admin, at a
laptop's 1366x768 (test-artifacts/screens/page-*.png, for people to look at), and the one layout
fault a machine can see: nothing wider than the window (a page that scrolls sideways)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from followups.models import FollowUp, Notification
from followups.services import dispatch_due
from leads.models import Lead
from leads.services import lead_reassign
from qualification.models import DisqualificationReason, HelpfulClose
from tests.e2e.conftest import login

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WIDTH = 1366


def _overflow(page) -> list[str]:
    """Elements sticking out past the right edge of the window (what makes a page scroll sideways).
    Content inside a scroll box (.table-responsive) is the box's business, not the page's."""
    return page.evaluate(
        """(width) => {
          if (document.documentElement.scrollWidth <= width) return [];
          const out = [];
          for (const el of document.querySelectorAll('body *')) {
            const r = el.getBoundingClientRect();
            if (r.right > width + 1 && !el.closest('.table-responsive')) {
              out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + '.' + [...el.classList].join('.'));
            }
          }
          return out.slice(0, 10);
        }""",
        WIDTH,
    )


def test_every_main_page_is_screenshotted_and_fits_the_window(page, live_server, shot):
    call_command("seed_demo", verbosity=0)
    # The bell has something to show: the demo's due follow-ups are reminded now, as the worker would.
    dispatch_due(budget_seconds=30)
    maria, ben = User.objects.get(username="maria"), User.objects.get(username="ben")
    ana_leads = Lead.objects.filter(owner__username="ana", stage=Lead.Stage.LEAD).order_by("id")
    lead = ana_leads.filter(discovery_calls__isnull=False).first()
    uncalled = ana_leads.filter(discovery_calls__isnull=True).first()
    # The audit log has an entry to show.
    lead_reassign(lead=ana_leads.last(), to_owner=ben, by=maria, reason="Ana is at the trade fair")
    followup = FollowUp.objects.filter(owner__username="ana", state=FollowUp.State.PENDING).first()
    close = HelpfulClose.objects.filter(owner__username="ana", sent_at__isnull=True).first()
    assert Notification.objects.filter(user__username="ana").exists()

    wide: dict[str, list[str]] = {}

    def visit(name: str, path: str) -> None:
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("load")
        shot(f"page-{name}")
        if found := _overflow(page):
            wide[name] = found

    visit("login", "/accounts/login/")
    visit("public-web-form", reverse("intake:public_form", args=["contact"]))
    visit("public-web-form-thanks", reverse("intake:public_thanks", args=["contact"]))
    login(page, live_server, "ana")
    for name, path in [
        ("rep-queue", reverse("leads:queue")),
        ("rep-followups", reverse("followups:mine")),
        ("rep-notifications", reverse("followups:notifications")),
        ("lead-detail", lead.get_absolute_url()),
        ("lead-edit", reverse("leads:edit", args=[lead.pk])),
        ("new-lead", reverse("leads:create")),
        ("followup-add", reverse("followups:add", args=[lead.pk])),
        ("followup-reschedule", reverse("followups:reschedule", args=[followup.pk])),
        ("discovery-call", reverse("qualification:call_new", args=[uncalled.pk])),
        ("discovery-call-with-recap", reverse("qualification:call_new", args=[lead.pk])),
        ("disqualify", reverse("qualification:disqualify", args=[lead.pk])),
        ("not-now", reverse("qualification:nurture", args=[lead.pk])),
        ("helpful-close", reverse("qualification:helpful_close", args=[close.pk])),
        ("password-change", reverse("password_change")),
        ("profile-api-tokens", reverse("profile")),
    ]:
        visit(name, path)

    page.context.clear_cookies()
    login(page, live_server, "maria")
    for name, path in [
        ("manager-dashboard", reverse("dashboard:index")),
        ("manager-leads", reverse("leads:queue")),
        ("manager-followups-team", reverse("followups:mine") + "?scope=team"),
        ("manager-notifications", reverse("followups:notifications")),
        ("manager-reassign", reverse("leads:reassign", args=[lead.pk])),
        ("manager-import", reverse("intake:import_start")),
    ]:
        visit(name, path)

    page.context.clear_cookies()
    login(page, live_server, "admin")
    reason = DisqualificationReason.objects.get(code="other")
    for name, path in [
        ("admin-criteria", reverse("qualification:criteria")),
        ("admin-reasons", reverse("qualification:reasons")),
        ("admin-reason-form", reverse("qualification:reason_edit", args=[reason.pk])),
        ("admin-audit-log", reverse("admin:audit_auditevent_changelist")),
        ("admin-followup-policy", reverse("admin:followups_followuppolicy_changelist")),
        ("admin-webforms", reverse("admin:intake_webform_changelist")),
        ("admin-index", reverse("admin:index")),
    ]:
        visit(name, path)

    assert wide == {}, f"pages wider than {WIDTH}px: {wide}"
    assert timezone.now()  # the run reached the end
