"""Qualification in a real browser: a rep takes a lead to customer through discovery calls and
the gate, a rep disqualifies helpfully, an admin changes the criteria."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import User
from leads.models import Activity, Lead, StageChange
from leads.services import lead_change_stage, lead_create
from qualification.models import CriteriaRule, CriteriaVersion, DiscoveryCall, HelpfulClose
from qualification.services import call_record
from tests.e2e.conftest import login

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PROBLEM = "Quotes take three days because prices live in five spreadsheets"


def _details(page, summary: str):
    """A <details> block of the lead page's "Move on" panel, opened."""
    block = page.locator("details").filter(has=page.locator("summary", has_text=summary))
    block.locator("summary").click()
    return block


def _answer(page, question: str, answer: str):
    """The radio button `answer` of a question (a fieldset whose legend is the question)."""
    return page.get_by_role("group", name=question).get_by_label(answer, exact=True)


def _lead_for(username: str, *, name: str, company: str) -> Lead:
    owner = User.objects.get(username=username)
    team = owner.memberships.get().team
    source = Lead._meta.get_field("source").related_model.objects.get(name="Website form")
    email = f"{name.split()[0].lower()}@{company.split()[0].lower()}.example"
    received = timezone.now() - timedelta(hours=2)
    return lead_create(
        by=owner, name=name, email=email, company=company, source=source, team=team, owner=owner, received_at=received
    )


def test_journey_rep_qualifies_a_lead_to_customer(page, live_server, small_demo, shot):
    login(page, live_server, "ana")
    page.get_by_role("link", name="New lead").first.click()
    page.get_by_label("Name").fill("Paula Quinn")
    page.get_by_label("Email").fill("paula@quinn-print.example")
    page.get_by_label("Company").fill("Quinn Print")
    page.get_by_label("Source").select_option(label="Website form")
    page.get_by_role("button", name="Save lead").click()
    page.get_by_text("Lead “Paula Quinn” saved.").wait_for()

    page.get_by_role("link", name="My leads").click()
    row = page.get_by_role("row").filter(has_text="Paula Quinn")
    assert "not contacted" in row.inner_text()
    # Speed-to-lead (follow-ups): the new lead's clock counts down in its queue row.
    assert "left" in row.locator(".sla-running").inner_text()
    shot("journey1-01-queue")

    row.get_by_role("link", name="Paula Quinn").click()
    log = page.locator("section").filter(has=page.get_by_role("heading", name="Log an activity"))
    log.get_by_label("What happened").fill("Called, booked the discovery call for this afternoon")
    log.get_by_role("button", name="Log activity").click()
    page.get_by_text("Activity logged.").wait_for()
    # The first contact stops the clock.
    page.get_by_role("link", name="My leads").click()
    row = page.get_by_role("row").filter(has_text="Paula Quinn")
    assert "touched" in row.inner_text() and row.locator(".sla-running, .sla-breached").count() == 0
    row.get_by_role("link", name="Paula Quinn").click()

    # First discovery call: the budget is not known yet, so it does not pass.
    page.get_by_role("link", name="Start the discovery call").click()
    page.get_by_role("heading", name="Discovery call with Paula Quinn").wait_for()
    page.get_by_label("What problem are they trying to solve?").fill(PROBLEM)
    _answer(page, "Do they confirm they have this problem?", "Yes").check()
    _answer(page, "Have they set aside a budget for this?", "Not known yet").check()
    page.get_by_label("How would they solve it without us?").fill("An intern two days a month")
    _answer(page, "Would doing it themselves be cheaper for them?", "No").check()
    page.get_by_label("Who decides?").fill("Dana Weiss, CFO")
    _answer(page, "Have we spoken with the person who decides?", "No").check()
    page.get_by_label("What next step did you agree on?").fill("Call back once the budget is approved")
    page.get_by_label("Duration (minutes)").fill("20")
    shot("journey1-02-first-call")
    page.get_by_role("button", name="Save call").click()
    page.get_by_text("Discovery call saved. Not sales-ready yet").wait_for()

    checklist = page.locator("#qualification")
    for sentence in [
        "Budget not known yet: ask what they have set aside.",
        "Budget not known yet, so it cannot be compared with the 5,000 EUR minimum.",
        "We have not spoken to the decision maker (Dana Weiss, CFO) yet.",
        "Timeline not known yet (the limit is 90 days).",
    ]:
        assert checklist.get_by_text(sentence).is_visible(), sentence
    assert "Not sales-ready yet: 1 required rule not met; 1 of the 3 points needed." in checklist.inner_text()
    shot("journey1-03-failing-checklist")

    # Second call: the recap of the first, "has anything changed?", the answers pre-filled.
    page.get_by_role("link", name="Record the next call").click()
    page.get_by_role("heading", name="Follow-up call with Paula Quinn").wait_for()
    recap = page.locator("section.recap")
    assert recap.get_by_role("heading", name="Last call").is_visible()
    assert PROBLEM in recap.inner_text() and "Dana Weiss, CFO" in recap.inner_text()
    changed = page.get_by_label("Has anything changed since the last call?")
    assert changed.is_visible() and changed.input_value() == ""
    assert page.get_by_label("What problem are they trying to solve?").input_value() == PROBLEM
    assert page.get_by_label("Who decides?").input_value() == "Dana Weiss, CFO"
    assert _answer(page, "Would doing it themselves be cheaper for them?", "No").is_checked()
    assert _answer(page, "Have they set aside a budget for this?", "Not known yet").is_checked()
    aside = page.locator("aside.criteria-aside")
    assert "After the last call" in aside.inner_text()
    assert "Budget not known yet: ask what they have set aside." in aside.inner_text()
    shot("journey1-04-second-call-recap")

    changed.fill("The CFO approved 12,000 EUR for this quarter and joined the call")
    _answer(page, "Have they set aside a budget for this?", "They named an amount").check()
    page.get_by_label("Amount", exact=True).fill("12000")
    page.get_by_label("Currency").select_option("EUR")
    _answer(page, "Have we spoken with the person who decides?", "Yes").check()
    _answer(page, "When do they need it solved?", "By a date").check()
    page.get_by_label("By when?").fill((timezone.localdate() + timedelta(days=45)).isoformat())
    page.get_by_label("What next step did you agree on?").fill("Send the proposal")
    page.get_by_role("button", name="Save call").click()
    page.get_by_text("Discovery call saved. Sales-ready: every required rule passes").wait_for()
    shot("journey1-05-passing-checklist")

    # The gate lets it through, then the deal is won.
    prospect = _details(page, "Move to Prospect")
    assert prospect.get_by_text("The latest call passes criteria v1.").is_visible()
    prospect.get_by_label("Reason").fill("Budget, problem and CFO confirmed on the second call")
    prospect.get_by_role("button", name="Confirm: Prospect").click()
    page.get_by_text("Moved to Prospect.").wait_for()
    customer = _details(page, "Move to Customer")
    customer.get_by_label("Reason").fill("Signed the annual plan")
    customer.get_by_role("button", name="Confirm: Customer").click()
    page.get_by_text("Moved to Customer.").wait_for()
    history = page.locator("ol.timeline")
    assert "Criteria v1: passed (6 points, 3 needed)" in history.inner_text()
    shot("journey1-06-customer")

    lead = Lead.objects.get(email="paula@quinn-print.example")
    assert lead.stage == Lead.Stage.CUSTOMER
    assert lead.first_contacted_at is not None
    calls = list(DiscoveryCall.objects.filter(lead=lead).order_by("held_at"))
    assert [c.evaluation["passed"] for c in calls] == [False, True]
    assert calls[1].changes_since_last.startswith("The CFO approved")
    assert (calls[1].budget_amount, calls[1].budget_currency) == (Decimal("12000"), "EUR")
    changes = list(StageChange.objects.filter(lead=lead).order_by("changed_at", "id"))
    assert [(c.from_stage, c.to_stage) for c in changes] == [
        ("", "lead"),
        ("lead", "prospect"),
        ("prospect", "customer"),
    ]
    gate = changes[1]
    assert gate.criteria_version.number == 1 and gate.criteria_version.is_current
    assert gate.is_override is False
    assert gate.evaluation["passed"] is True and gate.evaluation["criteria_number"] == 1
    assert gate.changed_by.username == "ana"
    assert changes[2].reason == "Signed the annual plan"


def test_journey_rep_disqualifies_with_a_reason_and_sends_the_helpful_close(page, live_server, small_demo, shot):
    lead = _lead_for("ana", name="Dora Diaz", company="Tiny Print Shop")
    login(page, live_server, "ana")
    page.get_by_role("row").filter(has_text="Dora Diaz").get_by_role("link", name="Dora Diaz").click()

    disqualify = _details(page, "Disqualify")
    disqualify.get_by_label("Reason").select_option(label="Cheaper to do it themselves")
    disqualify.get_by_label("In a few words").fill("A free template does the job for a shop their size")
    shot("journey2-01-disqualify")
    disqualify.get_by_role("button", name="Disqualify and write a helpful reply").click()

    # The helpful close, pre-filled from the reason's template.
    page.get_by_role("heading", name="A helpful reply to Dora Diaz").wait_for()
    page.get_by_text("Dora Diaz is disqualified. Now send them something useful:").wait_for()
    reply = page.get_by_label("Your reply")
    draft = reply.input_value()
    assert draft.startswith("Hi Dora,") and "Tiny Print Shop" in draft and draft.endswith("Ana Alvarez")
    shot("journey2-02-helpful-close")

    # It waits in the queue's "helpful replies to send".
    page.get_by_role("link", name="My leads").click()
    panel = page.locator("section.helpful-closes")
    assert "Cheaper to do it themselves" in panel.filter(has_text="Dora Diaz").inner_text()
    shot("journey2-03-queue-to-send")
    panel.get_by_role("link", name="Dora Diaz").click()

    tips = "1. Use the free quote template at example.org/quotes.\n2. Keep one price list, not five."
    body = (
        page.get_by_label("Your reply")
        .input_value()
        .replace("[two or three practical tips, a checklist or a link]", tips)
    )
    page.get_by_label("Your reply").fill(body)
    page.get_by_role("button", name="Mark as sent").click()
    page.get_by_text("Helpful reply to Dora Diaz marked as sent. Thank you.").wait_for()
    history = page.locator("ol.timeline").inner_text()
    assert "Moved from Lead to Disqualified by Ana Alvarez" in history
    assert "“Cheaper to do it themselves: A free template does the job for a shop their size”" in history
    assert "Helpful reply sent (Cheaper to do it themselves)" in history
    shot("journey2-04-lead-history")

    page.get_by_role("link", name="My leads").click()
    page.get_by_role("heading", name="My leads").wait_for()
    assert page.locator("section.helpful-closes").filter(has_text="Dora Diaz").count() == 0

    lead.refresh_from_db()
    assert lead.stage == Lead.Stage.DISQUALIFIED
    change = StageChange.objects.get(lead=lead, to_stage=Lead.Stage.DISQUALIFIED)
    assert change.disqualification_reason.code == "cheaper_diy"
    close = HelpfulClose.objects.get(lead=lead)
    assert close.stage_change == change
    assert close.sent_at is not None and close.sent_by.username == "ana"
    # What the rep sent, as edited (browsers submit textarea line ends as CRLF).
    assert close.body.replace("\r\n", "\n") == body.strip() and "example.org/quotes" in close.body
    assert Activity.objects.filter(lead=lead, kind=Activity.Kind.EMAIL).count() == 1


def test_journey_admin_changes_criteria(page, live_server, small_demo, shot):
    ana = User.objects.get(username="ana")
    answers = {
        "problem": PROBLEM,
        "problem_confirmed": True,
        "budget_status": "amount",
        "budget_amount": Decimal("8000"),
        "budget_currency": "EUR",
        "diy_cheaper": False,
        "decision_maker": "The owner",
        "decision_maker_spoken_to": False,
        "timeline_status": "none",
    }
    # Under v1 (5,000 EUR minimum, 2 points; decision maker known, 1 point; 3 needed) both pass.
    early = _lead_for("ana", name="Alma Early", company="Early Bakery")
    call_record(lead=early, by=ana, **answers)
    lead_change_stage(lead=early, to_stage=Lead.Stage.PROSPECT, by=ana, reason="Qualified on the call")
    later = _lead_for("ana", name="Bruno Later", company="Later Logistics")
    call_record(lead=later, by=ana, **answers)

    login(page, live_server, "admin")
    page.get_by_role("button", name="Settings").click()
    page.get_by_role("link", name="Sales-ready criteria").click()
    page.get_by_role("heading", name="Sales-ready criteria").wait_for()
    page.get_by_label("Minimum budget").fill("10000")
    page.get_by_label("What changed and why").fill("Raised the minimum budget after the price change")
    shot("journey3-01-criteria-edit")
    page.get_by_role("button", name="Publish as version 2").click()
    page.get_by_text("Version 2 published; it applies from now on.").wait_for()
    current = page.locator("details[open]").filter(has_text="in force")
    assert "v2" in current.inner_text() and "Budget of at least 10,000 EUR" in current.inner_text()
    shot("journey3-02-criteria-published")

    # The rep now meets the new rule on the lead whose call passed before, and the gate refuses.
    page.context.clear_cookies()
    login(page, live_server, "ana")
    page.goto(f"{live_server.url}{later.get_absolute_url()}")
    panel = page.locator("#qualification")
    assert panel.get_by_role("heading", name="Sales-ready? criteria v2").is_visible()
    assert panel.get_by_text("Budget 8,000 EUR is below the 10,000 EUR minimum.").is_visible()
    assert "passed v1 at the time" in panel.inner_text()
    prospect = _details(page, "Move to Prospect")
    assert prospect.get_by_text("Not sales-ready yet: see the checklist").is_visible()
    prospect.get_by_role("button", name="Confirm: Prospect").click()
    refusal = page.get_by_role("alert")
    refusal.wait_for()
    for sentence in [
        "Not sales-ready yet under criteria v2; what is missing:",
        "Score 1 is below the 3 points needed.",
        "Budget 8,000 EUR is below the 10,000 EUR minimum.",
    ]:
        assert sentence in refusal.inner_text(), sentence
    shot("journey3-03-gate-refuses")

    # The lead that went through under v1 keeps v1 in its history.
    page.goto(f"{live_server.url}{early.get_absolute_url()}")
    assert "Criteria v1: passed (3 points, 3 needed)" in page.locator("ol.timeline").inner_text()
    # Today's criteria do not judge it again: the re-evaluation is only there for reference.
    assert page.get_by_text("Past the sales-ready gate").is_visible()
    assert not page.get_by_text("Not sales-ready yet").is_visible()
    shot("journey3-04-history-keeps-v1")

    later.refresh_from_db()
    assert later.stage == Lead.Stage.LEAD
    assert not StageChange.objects.filter(lead=later, to_stage=Lead.Stage.PROSPECT).exists()
    v2 = CriteriaVersion.objects.get(is_current=True)
    assert v2.number == 2 and v2.created_by.username == "admin"
    assert v2.rules.get(kind=CriteriaRule.Kind.BUDGET_MIN).min_amount == Decimal("10000")
    assert StageChange.objects.get(lead=early, to_stage=Lead.Stage.PROSPECT).criteria_version.number == 1
