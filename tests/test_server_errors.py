"""A database outage answers 503 with a plain page, never a traceback, and the app recovers."""

from __future__ import annotations

import psycopg2
import pytest
from django.db import close_old_connections, connection
from django.test import Client
from django.urls import reverse


def _kill_this_process_connection() -> None:
    """What a PostgreSQL restart does to a web process: its open connection dies under it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    killer = psycopg2.connect(**connection.get_connection_params())
    killer.autocommit = True
    with killer.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    killer.close()


@pytest.mark.postgres
def test_a_lost_database_connection_is_a_503_and_the_next_request_recovers(committed_db, rep, lead, settings):
    settings.DATABASES["default"]["CONN_MAX_AGE"] = 60  # keep the connection between requests, as in production
    client = Client(raise_request_exception=False)
    client.force_login(rep)
    url = reverse("leads:detail", args=[lead.pk])
    assert client.get(url).status_code == 200

    _kill_this_process_connection()
    response = client.get(url)

    assert response.status_code == 503
    assert b"back in a moment" in response.content
    assert b"Traceback" not in response.content
    assert response["Retry-After"] == "5"
    # In production Django drops an unusable connection when each request finishes (the test
    # client turns that hook off); then the next request reconnects by itself.
    close_old_connections()
    assert client.get(url).status_code == 200


def test_other_server_errors_are_a_plain_500_page(client, rep, lead, monkeypatch):
    from leadflow.views import server_error

    try:
        raise ValueError("boom")
    except ValueError:
        response = server_error(client.get("/").wsgi_request)
    assert response.status_code == 500
    assert b"Something went wrong" in response.content
