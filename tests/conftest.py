"""Shared fixtures. Personas follow healthchecks' alice/bob/charlie:

- `rep` owns leads in `team`; `teammate` is another rep of the same team;
- `manager` runs `team`; `other_manager` runs `other_team`, where `other_rep` works;
- `admin_user` has the admin role.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts import roles
from tests.factories import make_lead, make_source, make_team, make_user

# In CI every service a test needs must be there: a missing one fails the test instead of skipping it.
REQUIRE_SERVICES = os.environ.get("LEADFLOW_REQUIRE_SERVICES", "") in ("1", "true", "yes")


def skip_or_fail(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (LEADFLOW_REQUIRE_SERVICES=1: a missing service is a failure)")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Personas are created in every test; the real hasher would dominate the suite's time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session", autouse=True)
def _json_support_probed(django_db_setup, django_db_blocker):
    # SQLite answers "JSON support?" with three queries, once per connection, on the first query
    # that builds JSON (the lead page's): ask up front, so pinned query counts do not depend on
    # which test runs first.
    with django_db_blocker.unblock():
        assert connection.features.supports_json_field


@pytest.fixture(autouse=True)
def _fresh_criteria_snapshots():
    # The process keeps criteria versions it has read (they never change), but each test rolls
    # its database back, and SQLite then hands the next test's version the same id.
    from qualification import selectors

    selectors._snapshots.clear()


@pytest.fixture(autouse=True)
def _postgres_marker(request):
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        skip_or_fail("needs PostgreSQL: set DATABASE_URL=postgres://…")


@pytest.fixture
def committed_db(transactional_db):
    """For tests whose data must really be committed: a live server, worker processes, a killed
    connection. The flush between such tests empties the groups the migrations made; put them back.
    Request it before the personas."""
    from django.apps import apps

    from accounts.roles import sync_roles

    sync_roles(apps)


@pytest.fixture
def rep(db):
    return make_user("rita", role=roles.REP, first_name="Rita", last_name="Rep")


@pytest.fixture
def teammate(db):
    return make_user("tom", role=roles.REP, first_name="Tom", last_name="Teammate")


@pytest.fixture
def manager(db):
    return make_user("mona", role=roles.MANAGER, first_name="Mona", last_name="Manager")


@pytest.fixture
def other_manager(db):
    return make_user("otto", role=roles.MANAGER, first_name="Otto", last_name="Other")


@pytest.fixture
def other_rep(db):
    return make_user("olga", role=roles.REP, first_name="Olga", last_name="Other")


@pytest.fixture
def admin_user(db):
    return make_user("ada", role=roles.ADMIN, first_name="Ada", last_name="Admin", is_staff=True)


@pytest.fixture
def team(rep, teammate, manager):
    return make_team("North", manager=manager, members=[rep, teammate])


@pytest.fixture
def other_team(other_manager, other_rep):
    return make_team("South", manager=other_manager, members=[other_rep])


@pytest.fixture
def source(db):
    return make_source("Website")


@pytest.fixture
def lead(rep, team, source):
    """Rita's lead, received a day ago and not contacted yet."""
    received = timezone.now() - timedelta(days=1)
    return make_lead(
        owner=rep, team=team, source=source, name="Lena Lead", email="lena@example.com", received_at=received
    )


# --- Intake (issue 5): Celery modes, web forms ---------------------------------------------------


def _reset_celery_connections(app) -> None:
    # Celery caches its connection pool and producers: drop them so a changed broker URL is used.
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def celery_conf():
    """Change the Celery app's settings for one test: `celery_conf(name=value, ...)`, undone after."""
    from leadflow.celery import app

    saved = {}

    def change(**values):
        for name, value in values.items():
            saved.setdefault(name, app.conf.get(name))
            app.conf[name] = value
        _reset_celery_connections(app)

    yield change
    for name, value in saved.items():
        app.conf[name] = value
    _reset_celery_connections(app)


@pytest.fixture
def eager_celery(celery_conf):
    """Tasks run in-process when enqueued (after commit), errors propagate."""
    celery_conf(task_always_eager=True, task_eager_propagates=True)


@pytest.fixture
def broker_down(celery_conf):
    """The broker is unreachable (a closed local port), like Redis during an outage."""
    celery_conf(
        task_always_eager=False,
        broker_url="redis://127.0.0.1:6399/0",
        # No connection retries, so each failed enqueue costs milliseconds, not the 2 s retry window.
        broker_transport_options={"socket_connect_timeout": 0.2, "socket_timeout": 0.2, "max_retries": 0},
    )


@pytest.fixture
def webform(team, source):
    from intake.models import WebForm

    return WebForm.objects.create(source=source, slug="contact", title="Contact us", team=team)
