from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from leads.models import Activity, Lead, StageChange
from leads.services import lead_change_stage
from qualification.models import DisqualificationReason, HelpfulClose
from qualification.services import helpful_close_mark_sent, lead_disqualify, lead_nurture, render_helpful_close

S = Lead.Stage


def test_disqualifying_records_the_reason_and_gives_the_owner_a_helpful_close(lead, rep, teammate, no_budget):
    close = lead_disqualify(lead=lead, by=teammate, reason=no_budget, note="Waiting for next year's funding")

    lead.refresh_from_db()
    assert lead.stage == S.DISQUALIFIED
    change = StageChange.objects.get(lead=lead, to_stage=S.DISQUALIFIED)
    assert change.disqualification_reason == no_budget
    assert change.reason == "No budget: Waiting for next year's funding"
    assert change.changed_by == teammate
    assert close.owner == rep  # the lead's owner, whoever disqualified it
    assert close.stage_change == change
    assert close.reason == no_budget
    assert close.body.startswith("Hi Lena,")
    assert close.body.endswith("Rita Rep")
    assert close.sent_at is None


def test_other_needs_a_few_words_and_nothing_is_saved_without(lead, rep, other_reason):
    with pytest.raises(ValidationError) as exc:
        lead_disqualify(lead=lead, by=rep, reason=other_reason, note="  ")

    assert "note" in exc.value.message_dict
    assert Lead.objects.get(pk=lead.pk).stage == S.LEAD
    assert not HelpfulClose.objects.exists()


def test_other_with_text_is_kept_in_the_history(lead, rep, other_reason):
    lead_disqualify(lead=lead, by=rep, reason=other_reason, note="Student project, no company")
    assert StageChange.objects.get(lead=lead, to_stage=S.DISQUALIFIED).reason == (
        "Other (say why): Student project, no company"
    )


def test_a_retired_reason_is_refused(lead, rep, no_budget):
    no_budget.is_active = False
    no_budget.save()

    with pytest.raises(ValidationError) as exc:
        lead_disqualify(lead=lead, by=rep, reason=no_budget)

    assert "reason" in exc.value.message_dict
    assert Lead.objects.get(pk=lead.pk).stage == S.LEAD


def test_spam_is_disqualified_without_a_reply_to_write(lead, rep):
    spam = DisqualificationReason.objects.get(code="spam")

    assert lead_disqualify(lead=lead, by=rep, reason=spam) is None

    assert Lead.objects.get(pk=lead.pk).stage == S.DISQUALIFIED
    assert StageChange.objects.get(lead=lead, to_stage=S.DISQUALIFIED).disqualification_reason == spam
    assert not HelpfulClose.objects.exists()


def test_an_outcome_cannot_be_disqualified_and_no_close_is_left_behind(lead, rep, manager, no_budget):
    lead_change_stage(lead=lead, to_stage=S.PROSPECT, by=manager, reason="x", override=True)
    lead_change_stage(lead=lead, to_stage=S.LOST, by=manager, reason="went elsewhere")

    with pytest.raises(ValidationError):
        lead_disqualify(lead=lead, by=rep, reason=no_budget)

    assert not HelpfulClose.objects.exists()


def test_templates_fill_only_the_documented_placeholders(lead, rep):
    body = render_helpful_close("Hi {first_name} of {company} {name.__class__} {unknown} — {rep}", lead=lead, rep=rep)
    assert body == "Hi Lena of your team {name.__class__} {unknown} — Rita Rep"


def test_not_now_moves_to_nurture_until_a_future_date(lead, rep):
    until = timezone.now() + timedelta(days=60)

    change = lead_nurture(lead=lead, by=rep, until=until, reason="After their budget round in Q1")

    lead.refresh_from_db()
    assert (lead.stage, lead.nurture_until) == (S.NURTURE, until)
    assert change.to_stage == S.NURTURE
    assert change.reason == "After their budget round in Q1"


@pytest.mark.parametrize("delta", [timedelta(minutes=-1), timedelta(0), timedelta(days=4000)])
def test_not_now_needs_a_recycle_date_in_the_future_and_not_years_away(lead, rep, delta):
    with pytest.raises(ValidationError) as exc:
        lead_nurture(lead=lead, by=rep, until=timezone.now() + delta)

    assert "until" in exc.value.message_dict
    lead.refresh_from_db()
    assert (lead.stage, lead.nurture_until) == (S.LEAD, None)


def test_marking_a_helpful_close_sent_keeps_the_text_and_logs_an_email(lead, rep, no_budget):
    close = lead_disqualify(lead=lead, by=rep, reason=no_budget)

    helpful_close_mark_sent(close=close, by=rep, body="Hi Lena, here is the free guide: …")

    close.refresh_from_db()
    assert close.sent_by == rep and close.sent_at is not None
    assert close.body == "Hi Lena, here is the free guide: …"
    (activity,) = Activity.objects.filter(lead=lead, kind=Activity.Kind.EMAIL)
    assert activity.outcome == "Helpful reply sent (No budget)"


def test_marking_sent_twice_records_one_sending(lead, rep, teammate, no_budget):
    close = lead_disqualify(lead=lead, by=rep, reason=no_budget)
    helpful_close_mark_sent(close=close, by=rep)
    first_sent_at = HelpfulClose.objects.get(pk=close.pk).sent_at

    helpful_close_mark_sent(close=HelpfulClose.objects.get(pk=close.pk), by=teammate, body="changed")

    close.refresh_from_db()
    assert (close.sent_at, close.sent_by) == (first_sent_at, rep)
    assert close.body != "changed"
    assert Activity.objects.filter(lead=lead, kind=Activity.Kind.EMAIL).count() == 1


def test_an_empty_reply_cannot_be_marked_sent(lead, rep, no_budget):
    close = lead_disqualify(lead=lead, by=rep, reason=no_budget)
    with pytest.raises(ValidationError) as exc:
        helpful_close_mark_sent(close=close, by=rep, body="   ")
    assert "body" in exc.value.message_dict
    assert HelpfulClose.objects.get(pk=close.pk).sent_at is None
