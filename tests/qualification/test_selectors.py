from __future__ import annotations

from leads.models import Lead
from qualification.selectors import helpful_close_list_unsent, referrals_from_disqualified
from qualification.services import helpful_close_mark_sent, lead_disqualify
from tests.factories import make_lead


def test_unsent_helpful_closes_show_to_their_owner_and_the_owners_manager(
    lead, rep, teammate, manager, other_manager, admin_user, no_budget
):
    close = lead_disqualify(lead=lead, by=rep, reason=no_budget)

    assert helpful_close_list_unsent(user=rep) == [close]
    assert helpful_close_list_unsent(user=manager) == [close]
    assert helpful_close_list_unsent(user=admin_user) == [close]
    assert helpful_close_list_unsent(user=teammate) == []
    assert helpful_close_list_unsent(user=other_manager) == []


def test_sent_helpful_closes_leave_the_list(lead, rep, no_budget):
    close = lead_disqualify(lead=lead, by=rep, reason=no_budget)
    helpful_close_mark_sent(close=close, by=rep)
    assert helpful_close_list_unsent(user=rep) == []


def test_the_list_is_oldest_first_and_says_when_there_are_more(rep, team, no_budget):
    leads = [make_lead(owner=rep, team=team) for _ in range(4)]
    closes = [lead_disqualify(lead=lead, by=rep, reason=no_budget) for lead in leads]

    assert helpful_close_list_unsent(user=rep, limit=2) == closes[:3]


def test_the_list_reads_what_the_lead_list_shows_and_not_the_replies(lead, rep, no_budget, django_assert_num_queries):
    lead_disqualify(lead=lead, by=rep, reason=no_budget)
    (close,) = helpful_close_list_unsent(user=rep)
    assert {"body", "stage_change_id", "sent_by_id"} <= close.get_deferred_fields()
    assert {"notes", "email"} <= close.lead.get_deferred_fields() and "password" in close.owner.get_deferred_fields()
    with django_assert_num_queries(0):
        shown = (close.pk, close.lead.name, close.reason.label, str(close.owner), close.is_overdue, close.created_at)
    assert shown[1:4] == (lead.name, no_budget.label, str(rep))


def test_reports_can_count_referrals_that_came_from_disqualified_leads(lead, rep, team, no_budget):
    lead_disqualify(lead=lead, by=rep, reason=no_budget)
    referred = make_lead(owner=rep, team=team, referred_by_lead=lead)
    open_referrer = make_lead(owner=rep, team=team)
    make_lead(owner=rep, team=team, referred_by_lead=open_referrer)

    assert list(referrals_from_disqualified(leads=Lead.objects.all())) == [referred]
