"""Bad input on every lead form gives field errors and saves nothing; good input saves."""

from __future__ import annotations

import pytest
from django.urls import reverse

from leads.models import Activity, Lead


def _create(client, **data):
    return client.post(reverse("leads:create"), data)


def _valid(source, team, **extra):
    return {"name": "Nina New", "email": "nina@example.com", "phone": "", "source": source.pk, "team": team.pk, **extra}


def test_a_rep_creates_a_lead_they_own_with_its_first_history_row(client, rep, team, source):
    client.force_login(rep)
    response = _create(client, **_valid(source, team, phone="+44 20 7946 0958"))

    lead = Lead.objects.get()
    assert response.status_code == 302 and response.url == lead.get_absolute_url()
    assert (lead.owner, lead.team, lead.stage, lead.phone) == (rep, team, "lead", "+442079460958")
    assert lead.stage_changes.get().to_stage == "lead"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "This field is required."),
        ("name", "x" * 201, "at most 200 characters"),
        ("email", "not-an-email", "valid email"),
        ("phone", "12", "valid phone number"),
        ("source", "999999", "Select a valid choice"),
        ("source", "abc", "Select a valid choice"),
        ("team", "999999", "Select a valid choice"),
    ],
)
def test_create_answers_bad_input_with_a_field_error(client, rep, team, source, field, value, message):
    client.force_login(rep)
    response = _create(client, **{**_valid(source, team), field: value})

    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert not Lead.objects.exists()


def test_create_needs_an_email_or_a_phone(client, rep, team, source):
    client.force_login(rep)
    response = _create(client, **_valid(source, team, email="", phone=""))
    assert "email or a phone" in " ".join(response.context["form"].non_field_errors())
    assert not Lead.objects.exists()


def test_an_empty_post_gives_errors_not_a_500(client, rep, team):
    client.force_login(rep)
    response = client.post(reverse("leads:create"), {})
    assert response.status_code == 200
    assert {"name", "source"} <= set(response.context["form"].errors)


def test_a_rep_cannot_file_a_lead_into_another_team(client, rep, team, other_team, source):
    client.force_login(rep)
    response = _create(client, **_valid(source, other_team))
    assert "team" in response.context["form"].errors
    assert not Lead.objects.exists()


def test_a_rep_cannot_give_the_lead_to_someone_else_by_tampering(client, rep, teammate, team, source):
    client.force_login(rep)
    _create(client, **_valid(source, team, owner=teammate.pk))
    assert Lead.objects.get().owner == rep  # the field is not on a rep's form: ignored


def test_a_manager_cannot_give_a_lead_to_someone_outside_the_team(client, manager, team, other_rep, source):
    client.force_login(manager)
    response = _create(client, **_valid(source, team, owner=other_rep.pk))
    assert "owner" in response.context["form"].errors
    assert not Lead.objects.exists()


def test_a_manager_files_a_lead_for_a_rep(client, manager, rep, team, source):
    client.force_login(manager)
    _create(client, **_valid(source, team, owner=rep.pk))
    assert Lead.objects.get().owner == rep


def test_create_warns_about_a_duplicate_and_saves_only_when_confirmed(client, rep, team, source, lead):
    client.force_login(rep)
    response = _create(client, **_valid(source, team, email="LENA@example.com "))
    assert response.status_code == 200
    assert list(response.context["duplicates"]) == [lead]
    assert lead.get_absolute_url().encode() in response.content
    assert Lead.objects.count() == 1

    _create(client, **_valid(source, team, email="lena@example.com", confirm_duplicate="on"))
    assert Lead.objects.count() == 2


def test_duplicate_warning_does_not_link_a_lead_the_user_cannot_see(client, other_rep, other_team, source, lead):
    client.force_login(other_rep)
    response = _create(client, **_valid(source, other_team, email="lena@example.com"))
    assert response.context["duplicates"] == [lead]
    assert lead.get_absolute_url().encode() not in response.content


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"to_stage": "bogus"}, "to_stage"),
        ({"to_stage": "customer"}, "to_stage"),  # not a legal move from lead
        ({"to_stage": "disqualified", "reason": ""}, "reason"),
        ({"to_stage": "prospect", "reason": "keen"}, "to_stage"),  # the gate, for a rep
        ({"to_stage": "nurture", "reason": "x" * 2001}, "reason"),
    ],
)
def test_stage_change_refusals_are_400_with_the_reason_and_change_nothing(client, rep, lead, data, field):
    client.force_login(rep)
    response = client.post(reverse("leads:change_stage", args=[lead.pk]), data)

    assert response.status_code == 400
    assert field in response.context["stage_form"].errors
    lead.refresh_from_db()
    assert lead.stage == "lead"
    assert lead.stage_changes.count() == 1


def test_disqualifying_with_a_free_text_reason_only_is_refused(client, rep, lead):
    client.force_login(rep)
    response = client.post(
        reverse("leads:change_stage", args=[lead.pk]), {"to_stage": "disqualified", "reason": "Spam"}
    )
    assert response.status_code == 400
    lead.refresh_from_db()
    assert lead.stage == "lead"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "fax", "outcome": "x"}, "kind"),
        ({"kind": "call", "outcome": ""}, "outcome"),
        ({"kind": "call", "outcome": "x" * 501}, "outcome"),
        ({"kind": "call", "outcome": "x", "occurred_at": "yesterday-ish"}, "occurred_at"),
        ({"kind": "call", "outcome": "x", "occurred_at": "2999-01-01T10:00"}, "occurred_at"),
        ({"kind": "call", "outcome": "x", "occurred_at": "2001-01-01T10:00"}, "occurred_at"),
    ],
)
def test_activity_refusals_are_400_with_field_errors_and_save_nothing(client, rep, lead, data, field):
    client.force_login(rep)
    response = client.post(reverse("leads:log_activity", args=[lead.pk]), data)

    assert response.status_code == 400
    assert field in response.context["activity_form"].errors
    assert not Activity.objects.exists()


def test_logging_a_call_contacts_the_lead(client, rep, lead):
    client.force_login(rep)
    client.post(reverse("leads:log_activity", args=[lead.pk]), {"kind": "call", "outcome": "Booked a demo"})
    lead.refresh_from_db()
    assert lead.first_contacted_at is not None
    assert Activity.objects.get().outcome == "Booked a demo"


@pytest.mark.parametrize(
    ("field", "value"), [("phone", "not a phone"), ("email", "bad@"), ("name", ""), ("source", "0")]
)
def test_edit_answers_bad_input_with_a_field_error_and_keeps_the_lead(client, rep, lead, field, value):
    client.force_login(rep)
    data = {"name": lead.name, "email": lead.email, "phone": "", "source": lead.source_id, field: value}
    response = client.post(reverse("leads:edit", args=[lead.pk]), data)

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert Lead.objects.get(pk=lead.pk).name == "Lena Lead"


def test_edit_ignores_tampered_stage_and_owner(client, rep, teammate, lead):
    client.force_login(rep)
    data = {"name": "Lena L.", "email": lead.email, "source": lead.source_id, "stage": "customer", "owner": teammate.pk}
    client.post(reverse("leads:edit", args=[lead.pk]), data)
    lead.refresh_from_db()
    assert (lead.name, lead.stage, lead.owner) == ("Lena L.", "lead", rep)


def test_reassign_to_someone_outside_the_team_is_a_field_error(client, manager, other_rep, lead, other_team):
    client.force_login(manager)
    response = client.post(reverse("leads:reassign", args=[lead.pk]), {"owner": other_rep.pk})
    assert response.status_code == 200
    assert "owner" in response.context["form"].errors


@pytest.mark.parametrize(
    "params",
    [{"q": "x" * 500}, {"stage": "bogus"}, {"source": "nope"}, {"owner": "-1"}, {"page": "999"}, {"page": "abc"}],
)
def test_the_queue_survives_odd_filters(client, rep, lead, params):
    client.force_login(rep)
    assert client.get(reverse("leads:queue"), params).status_code == 200


def test_the_queue_finds_leads_by_name_email_or_company(client, rep, lead):
    client.force_login(rep)
    for term, found in [("lena", True), ("LENA@EX", True), ("nobody", False)]:
        response = client.get(reverse("leads:queue"), {"q": term})
        assert (lead.pk in {row.pk for row in response.context["leads"]}) == found


def test_the_filter_bars_owner_lists_read_only_what_an_option_shows(admin_user, manager, rep, team):
    from leads.forms import LeadFilterForm

    for user in (admin_user, manager):
        form = LeadFilterForm(None, user=user)
        owners = form.fields["owner"].objects
        assert rep in owners
        assert all({"password", "email", "time_zone"} <= u.get_deferred_fields() for u in owners)
        assert f'<option value="{rep.pk}">{rep}</option>' in str(form["owner"])
