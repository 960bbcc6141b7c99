"""The lead → prospect gate in leads.services.lead_change_stage."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from leads.models import Lead, StageChange
from leads.services import lead_change_stage
from tests.factories import FAILING_ANSWERS, make_call, make_criteria

S = Lead.Stage


def move_to_prospect(lead, by, **kw):
    return lead_change_stage(lead=lead, to_stage=S.PROSPECT, by=by, **kw)


def refusal(exc) -> str:
    return " ".join(exc.value.message_dict["to_stage"])


def test_it_refuses_prospect_without_any_call(lead, rep, criteria):
    with pytest.raises(ValidationError) as exc:
        move_to_prospect(lead, rep)

    assert "No discovery call is recorded yet" in refusal(exc)
    lead.refresh_from_db()
    assert lead.stage == S.LEAD
    assert StageChange.objects.filter(lead=lead, to_stage=S.PROSPECT).count() == 0


def test_it_refuses_prospect_with_a_failing_call_listing_the_failing_rules(lead, rep, criteria):
    make_call(lead=lead, **FAILING_ANSWERS)

    with pytest.raises(ValidationError) as exc:
        move_to_prospect(lead, rep)

    messages = exc.value.message_dict["to_stage"]
    assert messages[0] == "Not sales-ready yet under criteria v1; what is missing:"
    assert "Not known yet whether they have the problem: ask them to describe it." in messages
    assert "Score 1 is below the 3 points needed." in messages
    assert "Budget not known yet, so it cannot be compared with the 5,000 EUR minimum." in messages
    assert Lead.objects.get(pk=lead.pk).stage == S.LEAD


def test_it_moves_a_lead_whose_latest_call_passes_and_records_version_and_evaluation(lead, rep, criteria):
    call = make_call(lead=lead)

    change = move_to_prospect(lead, rep)

    change.refresh_from_db()
    assert Lead.objects.get(pk=lead.pk).stage == S.PROSPECT
    assert not change.is_override
    assert change.criteria_version == criteria
    assert change.evaluation["passed"] is True
    assert change.evaluation["criteria_number"] == 1
    assert change.evaluation["score"] == 3  # budget 2 + decision maker 1; no timeline
    assert {r["kind"] for r in change.evaluation["results"]} == {r.kind for r in criteria.rules.all()}
    assert call.evaluation["passed"] is True


def test_it_judges_the_latest_call_not_an_earlier_passing_one(lead, rep, criteria):
    now = timezone.now()
    make_call(lead=lead, held_at=now - timedelta(hours=3))
    make_call(lead=lead, held_at=now - timedelta(hours=1), **FAILING_ANSWERS)

    with pytest.raises(ValidationError):
        move_to_prospect(lead, rep)


def test_latest_means_last_held_not_last_recorded(lead, rep, criteria):
    now = timezone.now()
    make_call(lead=lead, held_at=now - timedelta(hours=1))
    # Recorded afterwards, but about an older conversation: it does not replace the newer one.
    make_call(lead=lead, held_at=now - timedelta(hours=5), **FAILING_ANSWERS)

    assert move_to_prospect(lead, rep).evaluation["passed"] is True


def test_a_manager_overrides_a_failing_call_with_a_reason_and_the_verdict_is_kept(lead, manager, criteria):
    make_call(lead=lead, **FAILING_ANSWERS)

    change = move_to_prospect(lead, manager, override=True, reason="Met the CEO at the fair; budget is signed")

    change.refresh_from_db()
    assert change.is_override
    assert change.reason == "Met the CEO at the fair; budget is signed"
    assert change.criteria_version == criteria
    assert change.evaluation["passed"] is False
    assert Lead.objects.get(pk=lead.pk).stage == S.PROSPECT


def test_a_manager_override_without_any_call_is_recorded_without_an_evaluation(lead, manager, criteria):
    change = move_to_prospect(lead, manager, override=True, reason="Existing customer's sister company")

    assert change.is_override
    assert change.criteria_version == criteria
    assert change.evaluation is None


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_manager_override_needs_a_written_reason(lead, manager, criteria, reason):
    with pytest.raises(ValidationError) as exc:
        move_to_prospect(lead, manager, override=True, reason=reason)

    assert "reason" in exc.value.message_dict
    assert Lead.objects.get(pk=lead.pk).stage == S.LEAD


def test_a_manager_without_the_override_flag_is_refused_like_anyone(lead, manager, criteria):
    with pytest.raises(ValidationError):
        move_to_prospect(lead, manager, reason="keen")
    assert Lead.objects.get(pk=lead.pk).stage == S.LEAD


def test_a_rep_cannot_override(lead, rep, criteria):
    make_call(lead=lead, **FAILING_ANSWERS)

    with pytest.raises(ValidationError) as exc:
        move_to_prospect(lead, rep, override=True, reason="I have a good feeling")

    assert exc.value.message_dict["to_stage"][0] == "Only a manager can override the sales-ready gate."
    assert Lead.objects.get(pk=lead.pk).stage == S.LEAD
    assert not StageChange.objects.filter(lead=lead, is_override=True).exists()


def test_without_criteria_nothing_passes_but_a_manager_may_override(lead, rep, manager):
    make_call(lead=lead)

    with pytest.raises(ValidationError) as exc:
        move_to_prospect(lead, rep)
    assert "No sales-ready criteria are set up yet" in refusal(exc)

    change = move_to_prospect(lead, manager, override=True, reason="Criteria not configured yet")
    assert change.is_override
    assert change.criteria_version is None


def test_new_criteria_do_not_change_a_recorded_decision(lead, rep, admin_user, criteria):
    make_call(lead=lead)
    change = move_to_prospect(lead, rep)
    recorded = dict(change.evaluation)

    stricter = make_criteria(
        by=admin_user,
        rules=[{"kind": "budget_min", "required": True, "min_amount": Decimal("50000"), "currency": "EUR"}],
        threshold=0,
    )

    change.refresh_from_db()
    criteria.refresh_from_db()
    assert stricter.number == 2 and stricter.is_current
    assert change.criteria_version_id == criteria.pk
    assert change.evaluation == recorded
    assert change.evaluation["passed"] is True
    assert not criteria.is_current
    assert criteria.rules.count() == 4


def test_new_criteria_apply_to_the_next_decision(lead, rep, admin_user, criteria):
    make_call(lead=lead)
    make_criteria(
        by=admin_user,
        rules=[{"kind": "budget_min", "required": True, "min_amount": Decimal("50000"), "currency": "EUR"}],
        threshold=0,
    )

    with pytest.raises(ValidationError) as exc:
        move_to_prospect(lead, rep)

    assert "criteria v2" in refusal(exc)
    assert "Budget 8,000 EUR is below the 50,000 EUR minimum." in refusal(exc)
