"""accounts.sessions: Django's database sessions, read with a query compiled once."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.sessions.backends.db import SessionStore as DjangoStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts.sessions import SessionStore


def _saved(**data) -> str:
    store = SessionStore()
    store.update(data)
    store.save()
    return store.session_key


def test_it_reads_a_live_session_as_django_does(db, django_assert_num_queries):
    key = _saved(cart=[1, 2], who="rep")
    with django_assert_num_queries(1):
        assert SessionStore(key).load() == {"cart": [1, 2], "who": "rep"}
    assert DjangoStore(key).load() == {"cart": [1, 2], "who": "rep"}


def test_an_expired_or_unknown_session_is_empty_and_forgotten(db):
    key = _saved(who="rep")
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    for session_key in (key, "nosuchsessionkey12345"):
        store = SessionStore(session_key)
        assert store.load() == {}
        assert store.session_key is None


def test_a_logged_in_client_stays_logged_in_and_logging_out_ends_it(client, rep):
    client.force_login(rep)
    assert client.get("/leads/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/leads/").status_code == 302
