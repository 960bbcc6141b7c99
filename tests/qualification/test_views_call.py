from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from leads.models import Activity
from qualification.models import DiscoveryCall
from tests.factories import FAILING_ANSWERS, make_call, make_user

# A first call as the browser posts it (tri-state answers are "yes" / "no" / "").
FORM = {
    "problem": "Quotes take a day each",
    "problem_confirmed": "yes",
    "budget_status": "amount",
    "budget_amount": "6000",
    "budget_currency": "EUR",
    "diy_alternative": "A spreadsheet template",
    "diy_cheaper": "no",
    "decision_maker": "Dana, CFO",
    "decision_maker_spoken_to": "",
    "timeline_status": "none",
    "timeline_date": "",
    "next_step": "",
    "next_step_at": "",
    "held_at": "",
    "duration_minutes": "20",
    "notes": "",
}


def url(lead):
    return reverse("qualification:call_new", args=[lead.pk])


def test_anonymous_is_sent_to_log_in(client, lead):
    response = client.get(url(lead))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_rep_cannot_reach_a_lead_they_cannot_see(client, lead, other_rep, method):
    client.force_login(other_rep)
    response = getattr(client, method)(url(lead), FORM if method == "post" else None)
    assert response.status_code == 404
    assert not DiscoveryCall.objects.exists()


def test_someone_without_the_call_permission_is_refused(client, lead):
    client.force_login(make_user(role=None))
    assert client.get(url(lead)).status_code == 403
    assert client.post(url(lead), FORM).status_code == 403
    assert not DiscoveryCall.objects.exists()


def test_the_first_call_page_shows_the_questions_in_order_with_hints(client, lead, rep, criteria):
    client.force_login(rep)

    response = client.get(url(lead))

    assert response.status_code == 200
    html = response.content.decode()
    questions = [
        "What problem are they trying to solve?",
        "Have they set aside a budget for this?",
        "How would they solve it without us?",
        "Who decides?",
        "When do they need it solved?",
        "What next step did you agree on?",
    ]
    positions = [html.index(q) for q in questions]
    assert positions == sorted(positions)
    assert "Write what they say, not our product" in html
    assert "Has anything changed" not in html
    assert "Last call" not in html
    assert "What this call needs to find out" in html
    assert response.context["form"]["budget_currency"].value() == "EUR"  # the criteria's currency


def test_a_second_call_opens_with_the_recap_and_the_answers_filled_in(client, lead, rep, criteria):
    make_call(
        lead=lead,
        held_at=timezone.now() - timedelta(hours=20),
        duration_minutes=35,
        next_step="Send the case study",
        problem="Invoices typed by hand",
        **{k: v for k, v in FAILING_ANSWERS.items() if k != "problem"},
    )
    client.force_login(rep)

    response = client.get(url(lead))

    html = response.content.decode()
    assert "Last call: 20\xa0hours ago" in html
    assert "Send the case study" in html
    assert html.index("Last call") < html.index("Has anything changed since the last call?")
    assert html.index("Has anything changed since the last call?") < html.index("What problem are they")
    form = response.context["form"]
    assert form["problem"].value() == "Invoices typed by hand"
    assert form["decision_maker"].value() == "Dana, CFO"
    assert form["budget_status"].value() == "unknown"
    assert form["decision_maker_spoken_to"].value() == "yes"
    assert form["next_step"].value() in (None, "")
    # The sidebar says what is still missing after the last call.
    assert "Not known yet whether they have the problem" in html


def test_saving_a_call_records_it_logs_the_activity_and_returns_to_the_lead(client, lead, rep, criteria):
    client.force_login(rep)
    next_step_at = (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")

    response = client.post(url(lead), {**FORM, "next_step": "Demo with Dana", "next_step_at": next_step_at})

    assert response.status_code == 302
    assert response["Location"] == lead.get_absolute_url()
    call = DiscoveryCall.objects.get(lead=lead)
    assert (call.problem_confirmed, call.diy_cheaper, call.decision_maker_spoken_to) == (True, False, None)
    assert call.held_by == rep and call.duration_minutes == 20
    assert call.next_step == "Demo with Dana"
    assert Activity.objects.filter(lead=lead, kind="call").count() == 1


BAD_POSTS = [
    ({"budget_amount": "-5"}, "budget_amount", "A budget cannot be negative."),
    ({"budget_currency": ""}, "budget_currency", "Give the currency of the budget."),
    ({"budget_amount": "lots"}, "budget_amount", "Enter a number."),
    ({"next_step": "Call back", "next_step_at": "2020-01-01T10:00"}, "next_step_at", "must be in the future"),
    ({"timeline_status": "date", "timeline_date": ""}, "timeline_date", "Give the date"),
    ({"problem_confirmed": "maybe"}, "problem_confirmed", "Select a valid choice"),
    ({"budget_status": "lots"}, "budget_status", "Select a valid choice"),
]


@pytest.mark.parametrize(("changes", "field", "message"), BAD_POSTS)
def test_bad_input_gives_field_errors_and_saves_nothing(client, lead, rep, criteria, changes, field, message):
    client.force_login(rep)

    response = client.post(url(lead), {**FORM, **changes})

    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert "The call was not saved" in response.content.decode()
    assert not DiscoveryCall.objects.exists()
    assert not Activity.objects.exists()


def test_a_forged_criteria_version_in_the_call_post_is_ignored(client, lead, rep, admin_user, criteria):
    client.force_login(rep)
    client.post(url(lead), {**FORM, "criteria_version": "999", "evaluation": '{"passed": true}'})
    call = DiscoveryCall.objects.get()
    assert call.criteria_version == criteria
