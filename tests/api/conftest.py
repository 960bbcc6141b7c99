from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from api.services import api_token_create


@pytest.fixture
def api():
    """An API client; `api.as_user(user)` authenticates it with a fresh personal token."""
    client = APIClient()

    def as_user(user):
        _, key = api_token_create(user=user, name="tests")
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    client.as_user = as_user
    return client
