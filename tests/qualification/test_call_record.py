from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from leads.models import Activity
from qualification.models import DiscoveryCall
from qualification.services import call_record
from tests.factories import PASSING_ANSWERS, make_call


def test_it_saves_the_answers_and_the_verdict_under_the_current_criteria(lead, rep, criteria):
    call = make_call(lead=lead, by=rep, next_step="Demo with Dana", next_step_at=timezone.now() + timedelta(days=2))

    call.refresh_from_db()
    assert call.held_by == rep
    assert call.budget_amount == Decimal("8000") and call.budget_currency == "EUR"
    assert call.criteria_version == criteria
    assert call.evaluation["passed"] is True
    assert call.next_step == "Demo with Dana"


def test_it_logs_a_call_that_touches_the_lead(lead, rep):
    held = timezone.now() - timedelta(minutes=30)

    make_call(lead=lead, by=rep, held_at=held, duration_minutes=25, next_step="Send the proposal")

    (activity,) = Activity.objects.filter(lead=lead)
    assert activity.kind == Activity.Kind.CALL
    assert activity.outcome == "Discovery call (25 min); next step: Send the proposal"
    lead.refresh_from_db()
    assert lead.first_contacted_at == held
    assert lead.last_touched_at == held


def test_it_records_calls_without_criteria_too(lead, rep):
    call = make_call(lead=lead, by=rep)
    assert call.criteria_version is None
    assert call.evaluation is None


def test_a_currency_is_stored_upper_case(lead, rep):
    call = make_call(lead=lead, budget_currency="usd")
    assert call.budget_currency == "USD"


BAD_INPUT = [
    ({"budget_amount": Decimal("-100")}, "budget_amount", "cannot be negative"),
    ({"budget_amount": Decimal("0")}, "budget_amount", "“no budget”"),
    ({"budget_currency": ""}, "budget_currency", "currency"),
    ({"budget_amount": None}, "budget_amount", "Give the amount"),
    ({"budget_status": "unknown", "budget_currency": ""}, "budget_status", "You gave an amount"),
    ({"budget_currency": "XYZ"}, "budget_currency", "not a valid choice"),
    ({"next_step": "Call back", "next_step_at": timedelta(minutes=-5)}, "next_step_at", "in the future"),
    ({"next_step": "", "next_step_at": timedelta(days=1)}, "next_step", "Say what the next step is"),
    ({"timeline_status": "date"}, "timeline_date", "Give the date"),
    ({"timeline_status": "none", "timeline_date": date(2030, 1, 1)}, "timeline_status", "You gave a date"),
    ({"timeline_status": "date", "timeline_date": date(2020, 1, 1)}, "timeline_date", "before the call"),
    ({"held_at": timedelta(hours=2)}, "held_at", "cannot be in the future"),
    ({"held_at": timedelta(days=-3)}, "held_at", "cannot be earlier"),
    ({"duration_minutes": 0}, "duration_minutes", "greater than or equal to 1"),
]


@pytest.mark.parametrize(("changes", "field", "message"), BAD_INPUT)
def test_bad_answers_are_refused_on_their_field_and_nothing_is_saved(lead, rep, criteria, changes, field, message):
    now = timezone.now()
    kwargs = {**PASSING_ANSWERS, **changes}
    for name in ("held_at", "next_step_at"):
        if isinstance(kwargs.get(name), timedelta):
            kwargs[name] = now + kwargs[name]

    with pytest.raises(ValidationError) as exc:
        call_record(lead=lead, by=rep, **kwargs)

    assert message in " ".join(exc.value.message_dict[field])
    assert not DiscoveryCall.objects.exists()
    assert not Activity.objects.exists()
    lead.refresh_from_db()
    assert lead.first_contacted_at is None


def test_a_next_step_date_becomes_a_follow_up_agreed_with_the_lead(lead, rep):
    from datetime import timedelta

    from django.utils import timezone

    from followups.models import FollowUp

    when = timezone.now() + timedelta(days=3)
    call = make_call(lead=lead, by=rep, next_step="Call back with the quote", next_step_at=when)

    fu = FollowUp.objects.get(lead=lead, agreed_with_lead=True)
    assert (fu.due_at, fu.owner, fu.instruction, fu.state) == (when, lead.owner, call.next_step, "pending")
