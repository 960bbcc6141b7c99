"""Property-based run of the served OpenAPI schema (schemathesis + hypothesis): whatever a client
sends to any documented operation, the answer is never a server error, and it conforms to the
schema (status codes, content type, body)."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.services import api_token_create
from leads import services
from leads.models import Lead
from tests.factories import make_lead

# Loaded at collection from the app itself (the schema needs no database). Not through
# schemathesis.pytest.from_fixture: with pytest 9 it fails on a renamed internal (Node._nodeid).
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())


@pytest.fixture
def keep_test_connection():
    """schemathesis calls the WSGI app directly, not through Django's test client, so Django's
    end-of-request hook would close the database connection that holds the test's transaction
    (PostgreSQL). Unhook it for the test, as the test client does."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def manager_key(manager, team, rep, source, admin_user):
    """A manager's token, with leads in scope so ids 1, 2, 3… hit real rows too."""
    for i in range(3):
        lead = make_lead(owner=rep, team=team, source=source, name=f"Lead {i}")
    services.lead_change_stage(lead=lead, to_stage=Lead.Stage.NURTURE, by=rep, reason="later")
    merged = make_lead(owner=rep, team=team, source=source, name="Merged")
    services.lead_merge(survivor=lead, merged=merged, field_choices={}, by=admin_user)
    return api_token_create(user=manager, name="schemathesis")[1]


@schema.parametrize()
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_input_makes_the_api_fail(case, manager_key, keep_test_connection, db):
    # Every check but "a schema-valid request is accepted": the schema cannot say that a source
    # id must exist or that an activity cannot predate its lead; those are 400s with messages.
    case.call_and_validate(
        headers={"Authorization": f"Token {manager_key}"}, excluded_checks=[positive_data_acceptance]
    )
