"""The lead page's qualification parts and the moves it posts: prospect (gate and override),
disqualify, not now, helpful closes, referrals; and the queue's helpful-close panel."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from leads.models import Lead, StageChange
from qualification.models import DisqualificationReason, HelpfulClose
from qualification.services import lead_disqualify
from tests.factories import FAILING_ANSWERS, make_call, make_criteria, make_lead

S = Lead.Stage


def stage_url(lead):
    return reverse("leads:change_stage", args=[lead.pk])


def test_the_lead_page_shows_the_checklist_of_the_latest_call(client, lead, rep, criteria):
    make_call(lead=lead, **FAILING_ANSWERS)
    client.force_login(rep)

    html = client.get(lead.get_absolute_url()).content.decode()

    assert "criteria v1" in html
    assert "Not sales-ready yet: 1 required rule not met; 1 of the 3 points needed." in html
    assert "Budget not known yet, so it cannot be compared with the 5,000 EUR minimum." in html
    assert "Decision maker identified: Dana, CFO." in html
    assert "Record the next call" in html


def test_the_lead_page_without_a_call_lists_what_to_find_out(client, lead, rep, criteria):
    client.force_login(rep)
    html = client.get(lead.get_absolute_url()).content.decode()
    assert "No discovery call yet" in html
    assert "Budget of at least 5,000 EUR" in html
    assert "Start the discovery call" in html


def test_the_override_box_is_shown_to_managers_only_and_only_when_failing(client, lead, rep, manager, criteria):
    client.force_login(rep)
    assert 'name="override"' not in client.get(lead.get_absolute_url()).content.decode()
    client.force_login(manager)
    assert 'name="override"' in client.get(lead.get_absolute_url()).content.decode()
    make_call(lead=lead)
    assert 'name="override"' not in client.get(lead.get_absolute_url()).content.decode()


def test_a_rep_is_refused_prospect_with_the_failing_rules_listed(client, lead, rep, criteria):
    make_call(lead=lead, **FAILING_ANSWERS)
    client.force_login(rep)

    response = client.post(stage_url(lead), {"to_stage": "prospect", "criteria_version": "1"})

    assert response.status_code == 400
    html = response.content.decode()
    assert "Not sales-ready yet under criteria v1; what is missing:" in html
    assert "Not known yet whether they have the problem: ask them to describe it." in html
    assert Lead.objects.get(pk=lead.pk).stage == S.LEAD


def test_a_rep_moves_a_lead_whose_call_passes(client, lead, rep, criteria):
    make_call(lead=lead)
    client.force_login(rep)

    response = client.post(stage_url(lead), {"to_stage": "prospect", "criteria_version": "1"})

    assert response.status_code == 302
    change = StageChange.objects.get(lead=lead, to_stage=S.PROSPECT)
    assert (change.is_override, change.criteria_version) == (False, criteria)


def test_a_rep_ticking_override_is_still_refused(client, lead, rep, criteria):
    client.force_login(rep)

    response = client.post(stage_url(lead), {"to_stage": "prospect", "override": "on", "reason": "trust me"})

    assert response.status_code == 400
    assert "Only a manager can override" in response.content.decode()
    assert Lead.objects.get(pk=lead.pk).stage == S.LEAD


def test_a_manager_overrides_with_a_reason_and_the_history_shows_it(client, lead, manager, criteria):
    make_call(lead=lead, **FAILING_ANSWERS)
    client.force_login(manager)

    response = client.post(
        stage_url(lead), {"to_stage": "prospect", "override": "on", "reason": "Signed LOI", "criteria_version": "1"}
    )

    assert response.status_code == 302
    change = StageChange.objects.get(lead=lead, to_stage=S.PROSPECT)
    assert change.is_override and change.reason == "Signed LOI"
    html = client.get(lead.get_absolute_url()).content.decode()
    assert "manager override" in html
    assert "Criteria v1: not met (1 of the 3 points needed)" in html


def test_a_manager_override_without_reason_is_refused(client, lead, manager, criteria):
    client.force_login(manager)
    response = client.post(stage_url(lead), {"to_stage": "prospect", "override": "on", "reason": ""})
    assert response.status_code == 400
    assert "needs a written reason" in response.content.decode()
    assert Lead.objects.get(pk=lead.pk).stage == S.LEAD


@pytest.mark.parametrize("forged", ["abc", "0", "2", "999"])
def test_a_forged_criteria_version_is_a_field_error_and_nothing_moves(client, lead, rep, criteria, forged):
    make_call(lead=lead)
    client.force_login(rep)

    response = client.post(stage_url(lead), {"to_stage": "prospect", "criteria_version": forged})

    assert response.status_code == 400
    assert response.context["stage_form"].errors["criteria_version"]
    assert Lead.objects.get(pk=lead.pk).stage == S.LEAD
    assert not StageChange.objects.filter(to_stage=S.PROSPECT).exists()


def test_criteria_published_after_the_page_was_loaded_stop_the_move(client, lead, rep, admin_user, criteria):
    make_call(lead=lead)
    make_criteria(by=admin_user, threshold=2)
    client.force_login(rep)

    response = client.post(stage_url(lead), {"to_stage": "prospect", "criteria_version": "1"})

    assert response.status_code == 400
    assert "now version 2" in response.content.decode()
    assert Lead.objects.get(pk=lead.pk).stage == S.LEAD


def test_the_generic_move_refuses_to_disqualify_without_a_listed_reason(client, lead, rep):
    client.force_login(rep)
    response = client.post(stage_url(lead), {"to_stage": "disqualified", "reason": "x"})
    assert response.status_code == 400
    assert Lead.objects.get(pk=lead.pk).stage == S.LEAD


def test_the_generic_move_to_nurture_takes_the_policy_period(client, lead, rep):
    client.force_login(rep)
    client.post(stage_url(lead), {"to_stage": "nurture", "reason": "x"})
    lead.refresh_from_db()
    assert lead.stage == S.NURTURE and lead.nurture_until is not None


# --- Disqualify --------------------------------------------------------------------------------


def disqualify_url(lead):
    return reverse("qualification:disqualify", args=[lead.pk])


def test_disqualifying_from_the_page_leads_to_the_helpful_reply(client, lead, rep, no_budget):
    client.force_login(rep)

    response = client.post(disqualify_url(lead), {"disqualify-reason": no_budget.pk, "disqualify-note": ""})

    close = HelpfulClose.objects.get(lead=lead)
    assert response.status_code == 302
    assert response["Location"] == reverse("qualification:helpful_close", args=[close.pk])
    assert Lead.objects.get(pk=lead.pk).stage == S.DISQUALIFIED


def test_the_lead_page_lists_the_reasons(client, lead, rep):
    client.force_login(rep)
    html = client.get(lead.get_absolute_url()).content.decode()
    for reason in DisqualificationReason.objects.filter(is_active=True):
        assert reason.label in html


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"disqualify-reason": ""}, "reason"),
        ({"disqualify-reason": "999999"}, "reason"),
        ({"disqualify-reason": "other", "disqualify-note": ""}, "note"),
        ({"disqualify-reason": "retired"}, "reason"),
    ],
)
def test_bad_disqualify_input_is_a_field_error_and_nothing_changes(client, lead, rep, other_reason, data, field):
    retired = DisqualificationReason.objects.create(code="retired", label="Retired", is_active=False)
    data = {
        k: {"other": other_reason.pk, "retired": retired.pk}.get(v, v) if k == "disqualify-reason" else v
        for k, v in data.items()
    }
    client.force_login(rep)

    response = client.post(disqualify_url(lead), data)

    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert Lead.objects.get(pk=lead.pk).stage == S.LEAD
    assert not HelpfulClose.objects.exists()


def test_disqualify_is_not_reachable_for_someone_elses_lead(client, lead, other_rep, no_budget):
    client.force_login(other_rep)
    assert client.post(disqualify_url(lead), {"disqualify-reason": no_budget.pk}).status_code == 404
    assert Lead.objects.get(pk=lead.pk).stage == S.LEAD


# --- Not now ---------------------------------------------------------------------------------


def nurture_url(lead):
    return reverse("qualification:nurture", args=[lead.pk])


def test_not_now_moves_to_nurture_with_the_recycle_day(client, lead, rep):
    client.force_login(rep)
    day = timezone.localdate() + timedelta(days=30)

    response = client.post(nurture_url(lead), {"nurture-until": day.isoformat(), "nurture-reason": "Next quarter"})

    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.stage == S.NURTURE
    assert timezone.localtime(lead.nurture_until).date() == day
    assert timezone.localtime(lead.nurture_until).hour == 8


@pytest.mark.parametrize("days", [None, 0, -1])
def test_not_now_needs_a_day_after_today(client, lead, rep, days):
    client.force_login(rep)
    value = "" if days is None else (timezone.localdate() + timedelta(days=days)).isoformat()

    response = client.post(nurture_url(lead), {"nurture-until": value})

    assert response.status_code == 400
    assert response.context["form"].errors["until"]
    lead.refresh_from_db()
    assert (lead.stage, lead.nurture_until) == (S.LEAD, None)


# --- Helpful closes --------------------------------------------------------------------------


@pytest.fixture
def close(lead, rep, no_budget):
    return lead_disqualify(lead=lead, by=rep, reason=no_budget)


def close_url(close):
    return reverse("qualification:helpful_close", args=[close.pk])


def test_the_owner_edits_and_marks_the_helpful_reply_sent(client, close, rep):
    client.force_login(rep)
    assert "A helpful reply to Lena Lead" in client.get(close_url(close)).content.decode()

    response = client.post(close_url(close), {"body": "Hi Lena, try the free kit: https://example.com/kit"})

    assert response.status_code == 302
    close.refresh_from_db()
    assert close.sent_by == rep
    assert close.body == "Hi Lena, try the free kit: https://example.com/kit"


def test_an_empty_reply_is_a_field_error(client, close, rep):
    client.force_login(rep)
    response = client.post(close_url(close), {"body": "  "})
    assert response.status_code == 400
    assert HelpfulClose.objects.get(pk=close.pk).sent_at is None


@pytest.mark.parametrize("persona", ["teammate", "other_rep", "other_manager"])
def test_other_people_cannot_see_a_helpful_close(client, request, close, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(close_url(close)).status_code == 404
    assert client.post(close_url(close), {"body": "x"}).status_code == 404
    assert HelpfulClose.objects.get(pk=close.pk).sent_at is None


def test_unsent_helpful_closes_top_the_queue_of_the_owner_and_the_manager(client, close, rep, manager, teammate):
    for user, shown in [(rep, True), (manager, True), (teammate, False)]:
        client.force_login(user)
        html = client.get(reverse("leads:queue")).content.decode()
        assert ("Helpful replies to send" in html) is shown
        assert (close_url(close) in html) is shown


def test_a_sent_helpful_close_leaves_the_queue(client, close, rep):
    client.force_login(rep)
    client.post(close_url(close), {"body": "Hi"})
    assert "Helpful replies to send" not in client.get(reverse("leads:queue")).content.decode()


# --- Referrals ---------------------------------------------------------------------------------


def test_a_referral_is_logged_from_a_disqualified_lead(client, close, lead, rep, team, source):
    client.force_login(rep)
    html = client.get(lead.get_absolute_url()).content.decode()
    link = f"{reverse('leads:create')}?referred_by_lead={lead.pk}"
    assert link in html

    page = client.get(link)
    assert page.context["form"]["referred_by_lead"].value() == lead.pk
    assert page.context["form"]["referred_by"].value() == "Lena Lead"

    response = client.post(
        link,
        {
            "name": "Rob Referred",
            "email": "rob@example.com",
            "source": source.pk,
            "team": team.pk,
            "referred_by_lead": lead.pk,
        },
    )

    assert response.status_code == 302, response.context["form"].errors
    new = Lead.objects.get(name="Rob Referred")
    assert new.referred_by_lead == lead
    assert "Rob Referred" in client.get(lead.get_absolute_url()).content.decode()


def test_a_referral_from_an_invisible_lead_is_refused(client, lead, other_rep, other_team, source):
    client.force_login(other_rep)
    assert client.get(f"{reverse('leads:create')}?referred_by_lead={lead.pk}").status_code == 404
    assert client.get(f"{reverse('leads:create')}?referred_by_lead=abc").status_code == 404

    response = client.post(
        reverse("leads:create"),
        {
            "name": "Sneaky",
            "email": "s@example.com",
            "source": source.pk,
            "team": other_team.pk,
            "referred_by_lead": lead.pk,
        },
    )

    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["referred_by_lead"]
    assert not Lead.objects.filter(name="Sneaky").exists()


def test_a_referral_link_shows_on_the_referred_lead(client, lead, rep, team):
    referred = make_lead(owner=rep, team=team, referred_by_lead=lead, name="Rob Referred")
    client.force_login(rep)
    html = client.get(referred.get_absolute_url()).content.decode()
    assert "Referred by lead" in html
    assert lead.get_absolute_url() in html
