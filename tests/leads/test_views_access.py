"""The access matrix: every lead page and action × every persona → the right answer, and
nothing changed where refused."""

from __future__ import annotations

import pytest
from django.urls import reverse

from leads.models import Activity, Lead
from tests.factories import make_call, make_criteria

PERSONAS = ["anonymous", "rep", "teammate", "manager", "other_manager", "other_rep", "admin_user"]

# Expected status for Rita's lead (owned by `rep`, team managed by `manager`).
# 302 on an action = done, redirected to the lead; "login" = redirected to the login page.
SEES_LEAD = {
    "rep": True,
    "teammate": False,
    "manager": True,
    "other_manager": False,
    "other_rep": False,
    "admin_user": True,
}


def _client_for(client, request, persona):
    if persona != "anonymous":
        client.force_login(request.getfixturevalue(persona))
    return client


def _expected(persona, allowed_status):
    if persona == "anonymous":
        return "login"
    return allowed_status if SEES_LEAD[persona] else 404


def _check(response, expected):
    if expected == "login":
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))
    else:
        assert response.status_code == expected


@pytest.fixture
def world(lead, other_team):
    # other_team (other_manager, other_rep) must exist for those personas to be meaningful.
    # A passing discovery call, so the lead may move on to prospect.
    make_criteria()
    make_call(lead=lead)
    return lead


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("name", ["detail", "edit"])
def test_lead_pages_are_only_for_people_who_may_see_the_lead(client, request, world, persona, name):
    c = _client_for(client, request, persona)
    response = c.get(reverse(f"leads:{name}", args=[world.pk]))
    _check(response, _expected(persona, 200))


@pytest.mark.parametrize("persona", PERSONAS)
def test_edit_post_changes_the_lead_only_for_people_who_may_see_it(client, request, world, persona):
    c = _client_for(client, request, persona)
    data = {"name": "Renamed", "email": "lena@example.com", "phone": "", "source": world.source_id}
    response = c.post(reverse("leads:edit", args=[world.pk]), data)
    expected = _expected(persona, 302)
    _check(response, expected)
    world.refresh_from_db()
    assert (world.name == "Renamed") == (expected == 302)


@pytest.mark.parametrize("persona", PERSONAS)
def test_stage_change_is_only_for_people_who_may_see_the_lead(client, request, world, persona):
    c = _client_for(client, request, persona)
    response = c.post(reverse("leads:change_stage", args=[world.pk]), {"to_stage": "prospect"})
    expected = _expected(persona, 302)
    _check(response, expected)
    world.refresh_from_db()
    assert (world.stage == Lead.Stage.PROSPECT) == (expected == 302)
    assert world.stage_changes.count() == (2 if expected == 302 else 1)


@pytest.mark.parametrize("persona", PERSONAS)
def test_logging_an_activity_is_only_for_people_who_may_see_the_lead(client, request, world, persona):
    c = _client_for(client, request, persona)
    before = Activity.objects.filter(lead=world).count()
    response = c.post(reverse("leads:log_activity", args=[world.pk]), {"kind": "call", "outcome": "Spoke"})
    expected = _expected(persona, 302)
    _check(response, expected)
    assert Activity.objects.filter(lead=world).count() == before + (1 if expected == 302 else 0)


REASSIGN = {"rep": 403, "teammate": 404, "manager": 200, "other_manager": 404, "other_rep": 404, "admin_user": 200}


@pytest.mark.parametrize("persona", PERSONAS)
def test_reassign_page_is_for_the_team_manager_and_admins(client, request, world, persona):
    c = _client_for(client, request, persona)
    response = c.get(reverse("leads:reassign", args=[world.pk]))
    _check(response, "login" if persona == "anonymous" else REASSIGN[persona])


@pytest.mark.parametrize("persona", PERSONAS)
def test_reassign_post_moves_the_lead_only_for_the_team_manager_and_admins(client, request, world, teammate, persona):
    c = _client_for(client, request, persona)
    response = c.post(reverse("leads:reassign", args=[world.pk]), {"owner": teammate.pk, "reason": "cover"})
    expected = "login" if persona == "anonymous" else (302 if REASSIGN[persona] == 200 else REASSIGN[persona])
    _check(response, expected)
    world.refresh_from_db()
    assert (world.owner == teammate) == (expected == 302)


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("name", ["queue", "create"])
def test_list_and_new_pages_need_a_login(client, request, world, persona, name):
    c = _client_for(client, request, persona)
    response = c.get(reverse(f"leads:{name}"))
    _check(response, "login" if persona == "anonymous" else 200)


@pytest.mark.parametrize("name", ["change_stage", "log_activity"])
def test_actions_refuse_get(client, rep, world, name):
    client.force_login(rep)
    assert client.get(reverse(f"leads:{name}", args=[world.pk])).status_code == 405


@pytest.mark.parametrize(
    ("persona", "sees"),
    [("rep", True), ("teammate", False), ("manager", True), ("other_manager", False), ("admin_user", True)],
)
def test_the_queue_lists_only_leads_in_scope(client, request, world, persona, sees):
    client.force_login(request.getfixturevalue(persona))
    response = client.get(reverse("leads:queue"))
    assert (world.pk in {row.pk for row in response.context["leads"]}) == sees


def test_admin_site_is_for_staff_only(client, rep, admin_user):
    client.force_login(rep)
    assert client.get("/admin/").status_code == 302
    client.force_login(admin_user)
    assert client.get("/admin/leads/lead/").status_code == 200
