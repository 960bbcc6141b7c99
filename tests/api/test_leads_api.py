from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from leads import services
from leads.models import Activity, Lead, StageChange
from tests.factories import make_lead

LEADS = "/api/v1/leads/"


def _detail(lead) -> str:
    return f"/api/v1/leads/{lead.pk}/"


def test_it_needs_a_token(api, lead):
    response = api.get(LEADS)
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    api.credentials(HTTP_AUTHORIZATION="Token lf_wrong")
    assert api.get(LEADS).status_code == 401


def test_a_revoked_token_stops_working_at_once(api, rep):
    from api.models import ApiToken
    from api.services import api_token_revoke

    api.as_user(rep)
    assert api.get(LEADS).status_code == 200
    api_token_revoke(token=ApiToken.objects.get(user=rep))
    assert api.get(LEADS).status_code == 401


def test_create_a_lead(api, rep, team, source):
    response = api.as_user(rep).post(
        LEADS,
        {"name": "Ana", "email": "ANA@example.com", "phone": "(415) 555-0134", "source": source.pk},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["outcome"] == "created"
    assert body["lead"]["email"] == "ana@example.com" and body["lead"]["phone"] == "+14155550134"
    assert body["lead"]["owner"] == rep.pk  # a rep keeps what they add, as on the "New lead" page
    assert [h["to_stage"] for h in body["lead"]["stage_history"]] == ["lead"]


def test_a_managers_lead_is_shared_out_by_the_team_rule(api, manager, rep, teammate, team, source):
    response = api.as_user(manager).post(
        LEADS, {"name": "Ana", "email": "ana@example.com", "source": source.pk}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["lead"]["owner"] in (rep.pk, teammate.pk)


def test_the_team_is_needed_when_it_is_not_obvious(api, rep, source, team, other_manager):
    from tests.factories import make_team

    client = api.as_user(rep)
    second = make_team("Second", manager=other_manager, members=[rep])
    response = client.post(LEADS, {"name": "Ana", "email": "ana@example.com", "source": source.pk}, format="json")
    assert response.status_code == 400 and "team" in response.json()
    response = client.post(
        LEADS, {"name": "Ana", "email": "ana@example.com", "source": source.pk, "team": second.pk}, format="json"
    )
    assert response.status_code == 201 and response.json()["lead"]["team"] == second.pk


def test_a_known_person_becomes_an_inquiry_on_their_lead(api, rep, teammate, team, source):
    theirs = make_lead(owner=teammate, team=team, source=source, email="known@example.com")
    response = api.as_user(rep).post(
        LEADS, {"name": "Known", "email": "Known@Example.com", "source": source.pk}, format="json"
    )
    assert response.status_code == 200
    # The lead belongs to someone else: the rep is told it was attached, not shown the lead.
    assert response.json() == {"outcome": "attached", "lead": None}
    assert Activity.objects.filter(lead=theirs, kind=Activity.Kind.NOTE).count() == 1
    assert Lead.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({}, {"name", "source"}),
        ({"name": "Ana", "source": 1}, {"email"}),
        ({"name": "Ana", "email": "nope", "source": 1}, {"email"}),
        ({"name": "Ana", "phone": "12", "source": 1}, {"phone"}),
        ({"name": "A" * 201, "email": "a@example.com", "source": 1}, {"name"}),
        ({"name": "Ana", "email": "a@example.com", "source": 999999}, {"source"}),
        ({"name": "Ana", "email": "a@example.com", "source": "x"}, {"source"}),
        ({"name": "Ana", "email": "a@example.com", "source": 1, "team": 10**30}, {"team"}),
        ({"name": "Ana\x00", "email": "a@example.com", "source": 1}, {"name"}),
    ],
)
def test_bad_input_is_a_400_with_field_messages(api, rep, team, payload, fields):
    from tests.factories import make_source

    source = make_source()
    payload = {k: (source.pk if k == "source" and v == 1 else v) for k, v in payload.items()}
    response = api.as_user(rep).post(LEADS, payload, format="json")
    assert response.status_code == 400
    assert set(response.json()) == fields
    assert all(isinstance(m, str) for msgs in response.json().values() for m in msgs)
    assert not Lead.objects.exists()


def test_malformed_bodies_are_4xx_json(api, rep, source):
    client = api.as_user(rep)
    assert client.post(LEADS, "{not json", content_type="application/json").status_code == 400
    assert (
        client.post(LEADS, '{"name": "\\ud800", "email": "a@example.com"}', content_type="application/json").status_code
        == 400
    )
    assert client.post(LEADS, "[1, 2]", content_type="application/json").status_code == 400
    assert client.post(LEADS, "name=x", content_type="text/plain").status_code == 415
    assert client.put(LEADS, {}, format="json").status_code == 405
    big = '{"name": "' + "x" * 300_000 + '"}'
    assert client.post(LEADS, big, content_type="application/json").status_code == 413


def test_unknown_addresses_and_huge_ids_are_json_404s(api, rep):
    client = api.as_user(rep)
    for url in ["/api/v1/leads/99999999999999999999/", "/api/v1/leads/0/", "/api/v1/nothing/", "/api/v1/leads/abc/"]:
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.json() == {"detail": "Not found."} or "detail" in response.json()


def test_list_is_paginated_filtered_and_scoped(api, rep, teammate, team, source):
    for i in range(30):
        make_lead(owner=rep, team=team, source=source, name=f"Rita {i}")
    make_lead(owner=teammate, team=team, source=source, name="Tom's")
    client = api.as_user(rep)
    page = client.get(LEADS).json()
    assert page["count"] == 30 and len(page["results"]) == 25 and page["next"]
    assert "Tom's" not in {r["name"] for r in page["results"]}
    assert client.get(LEADS + "?q=Rita 7").json()["count"] == 1
    assert client.get(LEADS + "?stage=customer").json()["count"] == 0
    assert client.get(LEADS + "?stage=bogus").status_code == 400
    assert client.get(LEADS + "?page=99").status_code == 404
    assert client.get(LEADS + "?page=").status_code == 400
    assert client.get(LEADS + "?page=last").status_code == 400
    assert len(client.get(LEADS + "?page_size=100").json()["results"]) == 30
    assert client.get(LEADS + "?page_size=1000").status_code == 400


@pytest.mark.parametrize("n", [5, 50])
def test_the_list_runs_a_fixed_number_of_queries(api, rep, team, source, n, django_assert_num_queries):
    for _ in range(n):
        make_lead(owner=rep, team=team, source=source)
    client = api.as_user(rep)
    client.get(LEADS)  # first use of the token writes last_used_at
    with django_assert_num_queries(LIST_QUERIES):
        assert client.get(LEADS).status_code == 200


LIST_QUERIES = 4  # token, its user, permissions, the page with its count


def test_read_one_with_its_stage_history(api, rep, lead, manager):
    services.lead_change_stage(
        lead=lead, to_stage=Lead.Stage.PROSPECT, by=manager, reason="Budget confirmed", override=True
    )
    body = api.as_user(rep).get(_detail(lead)).json()
    assert body["name"] == "Lena Lead"
    assert [(h["from_stage"], h["to_stage"]) for h in body["stage_history"]] == [("", "lead"), ("lead", "prospect")]
    assert body["stage_history"][1]["reason"] == "Budget confirmed"


def test_a_merged_lead_redirects_to_its_survivor(api, rep, team, source, lead, manager):
    other = make_lead(owner=rep, team=team, source=source, email="other@example.com")
    services.lead_merge(survivor=other, merged=lead, field_choices={}, by=manager)
    client = api.as_user(rep)
    response = client.get(_detail(lead))
    assert response.status_code == 301 and response["Location"] == _detail(other)
    assert client.post(_detail(lead) + "stage/", {"to_stage": "nurture"}, format="json").status_code == 409


def test_change_stage_goes_through_the_same_gate(api, rep, manager, lead):
    response = api.as_user(rep).post(
        _detail(lead) + "stage/", {"to_stage": "prospect", "reason": "keen"}, format="json"
    )
    assert response.status_code == 400 and "to_stage" in response.json()
    response = api.post(_detail(lead) + "stage/", {"to_stage": "disqualified"}, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    response = api.post(_detail(lead) + "stage/", {"to_stage": "bogus"}, format="json")
    assert response.status_code == 400 and "to_stage" in response.json()
    lead.refresh_from_db()
    assert lead.stage == Lead.Stage.LEAD

    response = api.as_user(manager).post(
        _detail(lead) + "stage/", {"to_stage": "prospect", "reason": "CFO call", "override": True}, format="json"
    )
    assert response.status_code == 200 and response.json()["stage"] == "prospect"
    assert StageChange.objects.get(lead=lead, to_stage="prospect").is_override


def test_log_an_activity(api, rep, lead):
    client = api.as_user(rep)
    response = client.post(
        _detail(lead) + "activities/", {"kind": "call", "outcome": "Left a voicemail"}, format="json"
    )
    assert response.status_code == 201 and response.json()["kind"] == "call"
    lead.refresh_from_db()
    assert lead.first_contacted_at is not None
    future = (timezone.now() + timedelta(days=2)).isoformat()
    response = client.post(
        _detail(lead) + "activities/", {"kind": "call", "outcome": "x", "occurred_at": future}, format="json"
    )
    assert response.status_code == 400 and "occurred_at" in response.json()
    response = client.post(
        _detail(lead) + "activities/",
        {"kind": "call", "outcome": "x", "occurred_at": "0001-01-01T00:00:00+14:00"},
        format="json",
    )
    assert response.status_code == 400


PERSONAS = ["rep", "teammate", "manager", "other_manager", "other_rep", "admin_user"]


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_access_matrix_of_the_api_is_the_uis(client, api, request, persona, lead, other_team):
    """For every persona, each API endpoint answers what the matching page answers: allowed,
    404 outside the user's scope, 403 without the role's permission."""
    user = request.getfixturevalue(persona)
    client.force_login(user)
    api.as_user(user)

    ui_read = client.get(reverse("leads:detail", args=[lead.pk])).status_code
    api_read = api.get(_detail(lead)).status_code
    assert (ui_read == 200) == (api_read == 200) and (ui_read == 404) == (api_read == 404)

    ui_listed = lead.pk in {row.pk for row in client.get(reverse("leads:queue")).context["leads"]}
    api_listed = lead.pk in {r["id"] for r in api.get(LEADS).json()["results"]}
    assert ui_listed == api_listed

    ui_log = client.post(reverse("leads:log_activity", args=[lead.pk]), {"kind": "note", "outcome": "ui"}).status_code
    api_log = api.post(_detail(lead) + "activities/", {"kind": "note", "outcome": "api"}, format="json").status_code
    assert (ui_log == 302) == (api_log == 201) and (ui_log == 404) == (api_log == 404)

    ui_move = client.post(
        reverse("leads:change_stage", args=[lead.pk]), {"to_stage": "nurture", "reason": ""}
    ).status_code
    api_move = api.post(_detail(lead) + "stage/", {"to_stage": "nurture"}, format="json").status_code
    assert (ui_move == 404) == (api_move == 404)

    ui_create = client.get(reverse("leads:create")).status_code
    api_create = api.post(
        LEADS, {"name": "X", "email": f"x-{persona}@example.com", "source": lead.source_id}, format="json"
    ).status_code
    assert (ui_create == 403) == (api_create == 403)


def test_the_schema_and_its_docs_page_are_served(client):
    schema = client.get("/api/v1/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {
        "/api/v1/leads/",
        "/api/v1/leads/{id}/",
        "/api/v1/leads/{id}/stage/",
        "/api/v1/leads/{id}/activities/",
    } <= set(paths)
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    for path in paths:
        assert path in html
    assert "Create a lead" in html and "<script" not in html.split("</main>")[0].split("<main")[1]


def test_the_list_gives_each_lead_as_the_lead_serializer_does(api, manager, rep, team, source):
    """The list writes its leads out field by field (api.serializers._LeadListSerializer); each
    must read exactly as DRF's LeadSerializer gives it."""
    from api.serializers import LeadSerializer

    now = timezone.now()
    make_lead(owner=rep, team=team, source=source, name="Owned <b>", company="Acme & Co")
    unowned = make_lead(owner=None, team=team, source=source, name="Nobody's", email="", phone="+14155550134")
    Lead.objects.filter(pk=unowned.pk).update(
        first_contacted_at=now + timedelta(minutes=1), last_touched_at=now + timedelta(minutes=5)
    )
    body = api.as_user(manager).get(LEADS).json()
    leads = Lead.objects.filter(pk__in=[row["id"] for row in body["results"]]).select_related("source", "owner")
    expected = {lead.pk: LeadSerializer(lead).data for lead in leads}
    assert len(body["results"]) == 2
    for row in body["results"]:
        assert list(row) == list(expected[row["id"]])
        assert row == expected[row["id"]]
