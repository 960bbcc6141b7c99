from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from leads import services
from leads.models import Lead, StageChange
from tests.factories import make_call, make_criteria

S = Lead.Stage

# (from, to) pairs PRODUCT.md draws; everything else must be refused.
LEGAL = {
    (S.LEAD, S.PROSPECT),
    (S.LEAD, S.DISQUALIFIED),
    (S.LEAD, S.NURTURE),
    (S.PROSPECT, S.CUSTOMER),
    (S.PROSPECT, S.LOST),
    (S.PROSPECT, S.DISQUALIFIED),
    (S.PROSPECT, S.NURTURE),
    (S.NURTURE, S.LEAD),
}
# How to reach each stage from a fresh lead, as a manager (past the prospect gate by override).
PATH_TO = {
    S.LEAD: [],
    S.PROSPECT: [S.PROSPECT],
    S.CUSTOMER: [S.PROSPECT, S.CUSTOMER],
    S.NURTURE: [S.NURTURE],
    S.DISQUALIFIED: [S.DISQUALIFIED],
    S.LOST: [S.PROSPECT, S.LOST],
}


def needs(to_stage: str) -> dict:
    """What a move to this stage must carry besides a reason."""
    from qualification.models import DisqualificationReason

    if to_stage == S.DISQUALIFIED:
        return {"disqualification_reason": DisqualificationReason.objects.get(code="no_budget")}
    if to_stage == S.NURTURE:
        return {"nurture_until": timezone.now() + timedelta(days=30)}
    return {}


def bring_to(lead: Lead, stage: str, by) -> None:
    for step in PATH_TO[stage]:
        services.lead_change_stage(
            lead=lead, to_stage=step, by=by, reason="setting up", override=step == S.PROSPECT, **needs(step)
        )


@pytest.mark.parametrize(("from_stage", "to_stage"), sorted(LEGAL))
def test_it_makes_every_legal_move_and_records_it(lead, manager, from_stage, to_stage):
    bring_to(lead, from_stage, manager)
    if (from_stage, to_stage) == (S.LEAD, S.PROSPECT):
        make_criteria()
        make_call(lead=lead)
    before = StageChange.objects.filter(lead=lead).count()

    change = services.lead_change_stage(lead=lead, to_stage=to_stage, by=manager, reason="because", **needs(to_stage))

    lead.refresh_from_db()
    assert lead.stage == to_stage
    assert StageChange.objects.filter(lead=lead).count() == before + 1
    assert (change.from_stage, change.to_stage, change.changed_by, change.reason) == (
        from_stage,
        to_stage,
        manager,
        "because",
    )
    assert not change.is_override


ILLEGAL = [(f, t) for f in S.values for t in S.values if f != t and (f, t) not in LEGAL]


@pytest.mark.parametrize(("from_stage", "to_stage"), ILLEGAL)
def test_it_refuses_every_illegal_move_and_changes_nothing(lead, manager, from_stage, to_stage):
    bring_to(lead, from_stage, manager)
    before = StageChange.objects.filter(lead=lead).count()

    with pytest.raises(ValidationError) as exc:
        services.lead_change_stage(lead=lead, to_stage=to_stage, by=manager, reason="because", **needs(to_stage))

    assert "cannot move to" in exc.value.message_dict["to_stage"][0]
    lead.refresh_from_db()
    assert lead.stage == from_stage
    assert StageChange.objects.filter(lead=lead).count() == before


def test_it_refuses_a_move_to_the_same_stage(lead, manager):
    with pytest.raises(ValidationError):
        services.lead_change_stage(lead=lead, to_stage=S.LEAD, by=manager)


def test_it_refuses_an_unknown_stage(lead, manager):
    with pytest.raises(ValidationError):
        services.lead_change_stage(lead=lead, to_stage="won-ish", by=manager)


@pytest.mark.parametrize("to_stage", [S.DISQUALIFIED, S.LOST])
@pytest.mark.parametrize("reason", ["", "   "])
def test_it_requires_a_reason_to_disqualify_or_lose(lead, manager, to_stage, reason):
    if to_stage == S.LOST:
        bring_to(lead, S.PROSPECT, manager)

    with pytest.raises(ValidationError) as exc:
        services.lead_change_stage(lead=lead, to_stage=to_stage, by=manager, reason=reason)

    assert "reason" in exc.value.message_dict
    lead.refresh_from_db()
    assert lead.stage != to_stage


def test_it_records_the_creation_as_the_first_history_row(lead, rep):
    (first,) = StageChange.objects.filter(lead=lead)
    assert (first.from_stage, first.to_stage, first.changed_by) == ("", S.LEAD, rep)
    assert first.changed_at == lead.received_at


def test_it_refuses_prospect_without_a_passing_call(lead, rep):
    make_criteria()
    with pytest.raises(ValidationError) as exc:
        services.lead_change_stage(lead=lead, to_stage=S.PROSPECT, by=rep, reason="they are keen")

    assert "No discovery call" in " ".join(exc.value.message_dict["to_stage"])
    lead.refresh_from_db()
    assert lead.stage == S.LEAD


def test_it_lets_a_manager_override_the_gate_with_a_reason_recorded_as_override(lead, manager):
    change = services.lead_change_stage(
        lead=lead, to_stage=S.PROSPECT, by=manager, reason="CEO confirmed budget", override=True
    )
    assert change.is_override
    assert change.reason == "CEO confirmed budget"


def test_it_refuses_a_manager_override_without_reason(lead, manager):
    with pytest.raises(ValidationError) as exc:
        services.lead_change_stage(lead=lead, to_stage=S.PROSPECT, by=manager, reason="", override=True)
    assert "reason" in exc.value.message_dict


def test_it_uses_the_stage_the_database_holds_not_a_stale_copy(lead, manager):
    stale = Lead.objects.get(pk=lead.pk)
    services.lead_change_stage(lead=lead, to_stage=S.DISQUALIFIED, by=manager, reason="spam", **needs(S.DISQUALIFIED))

    with pytest.raises(ValidationError):
        services.lead_change_stage(lead=stale, to_stage=S.NURTURE, by=manager, **needs(S.NURTURE))

    assert Lead.objects.get(pk=lead.pk).stage == S.DISQUALIFIED


def test_it_refuses_to_disqualify_without_a_listed_reason_so_no_helpful_close_is_skipped(lead, manager):
    with pytest.raises(ValidationError) as exc:
        services.lead_change_stage(lead=lead, to_stage=S.DISQUALIFIED, by=manager, reason="free text only")
    assert "from the list" in exc.value.message_dict["reason"][0]
    lead.refresh_from_db()
    assert lead.stage == S.LEAD


def test_a_disqualification_through_the_core_service_still_creates_the_helpful_close(lead, manager):
    from qualification.models import HelpfulClose

    change = services.lead_change_stage(
        lead=lead, to_stage=S.DISQUALIFIED, by=manager, reason="x", **needs(S.DISQUALIFIED)
    )
    close = HelpfulClose.objects.get(lead=lead)
    assert (close.stage_change, close.owner) == (change, lead.owner)


def test_it_refuses_a_nurture_date_in_the_past(lead, manager):
    with pytest.raises(ValidationError) as exc:
        services.lead_change_stage(
            lead=lead, to_stage=S.NURTURE, by=manager, nurture_until=timezone.now() - timedelta(minutes=1)
        )
    assert "nurture_until" in exc.value.message_dict


def test_nurture_without_a_date_takes_the_policy_period(lead, manager):
    from followups.models import FollowUpPolicy

    change = services.lead_change_stage(lead=lead, to_stage=S.NURTURE, by=manager)
    lead.refresh_from_db()
    assert lead.nurture_until == change.changed_at + timedelta(days=FollowUpPolicy.load().nurture_days)


def test_leaving_nurture_clears_the_recycle_date(lead, manager):
    bring_to(lead, S.NURTURE, manager)
    assert lead.nurture_until is not None
    services.lead_change_stage(lead=lead, to_stage=S.LEAD, by=manager)
    lead.refresh_from_db()
    assert lead.nurture_until is None
