from __future__ import annotations

from django.urls import reverse

from api.models import ApiToken
from api.services import hash_key


def test_the_profile_page_needs_login(client):
    assert client.get(reverse("profile")).status_code == 302


def test_a_token_is_created_on_the_profile_page_and_shown_once(client, rep, api):
    client.force_login(rep)
    response = client.post(reverse("api_token_create"), {"name": "Website CMS"})
    assert response.status_code == 302 and response["Location"] == reverse("profile")
    page = client.get(reverse("profile"))
    key = page.context["new_token"]["key"]
    assert key.startswith("lf_") and key in page.content.decode()
    token = ApiToken.objects.get(user=rep)
    assert token.key_hash == hash_key(key) and key not in (token.prefix, token.key_hash)
    assert key not in client.get(reverse("profile")).content.decode()  # gone on the next visit

    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/leads/").status_code == 200
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api.get("/api/v1/leads/").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_a_token_is_revoked_on_the_profile_page(client, rep, api):
    client.force_login(rep)
    client.post(reverse("api_token_create"), {"name": "CMS"})
    key = client.get(reverse("profile")).context["new_token"]["key"]
    token = ApiToken.objects.get(user=rep)
    assert client.get(reverse("api_token_revoke", args=[token.pk])).status_code == 405
    assert client.post(reverse("api_token_revoke", args=[token.pk])).status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/leads/").status_code == 401


def test_nobody_revokes_someone_elses_token(client, rep, teammate):
    client.force_login(rep)
    client.post(reverse("api_token_create"), {"name": "CMS"})
    token = ApiToken.objects.get(user=rep)
    client.force_login(teammate)
    assert client.post(reverse("api_token_revoke", args=[token.pk])).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_a_token_needs_a_name(client, rep):
    client.force_login(rep)
    client.post(reverse("api_token_create"), {"name": "  "})
    assert not ApiToken.objects.exists()


def test_a_deactivated_user_s_token_stops_working(rep, api):
    api.as_user(rep)
    rep.is_active = False
    rep.save()
    assert api.get("/api/v1/leads/").status_code == 401
