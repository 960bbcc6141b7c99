"""Random and hostile values posted to every form: never a 500, never echoed unescaped.

New forms and endpoints join FORMS below (or a sibling test for the API)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leads.models import Lead

MARKER = "<script>alert(1)</script>"
HOSTILE = st.one_of(
    st.text(max_size=50),
    st.text(min_size=3000, max_size=5000, alphabet=st.characters(codec="utf-8")),
    st.sampled_from(
        [
            MARKER,
            '"><img src=x onerror=alert(1)>',
            "' OR 1=1 --",
            "Robert'); DROP TABLE leads_lead;--",
            "\x00\x01\x02nul",
            "\u202e\u200breversed",
            "=cmd|' /C calc'!A0",
            "😀" * 300,
            "-1",
            "1e309",
            "9" * 40,
            "",
            " ",
        ]
    ),
)
HYPOTHESIS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


def _assert_safe(response):
    assert response.status_code < 500
    if response.get("Content-Type", "").startswith("text/html"):
        assert MARKER.encode() not in response.content


@HYPOTHESIS
@given(
    name=HOSTILE,
    email=HOSTILE,
    phone=HOSTILE,
    company=HOSTILE,
    notes=HOSTILE,
    bad_source=st.none() | HOSTILE,
    bad_team=st.none() | HOSTILE,
)
def test_new_lead_form(client, rep, team, source, name, email, phone, company, notes, bad_source, bad_team):
    client.force_login(rep)
    data = {"name": name, "email": email, "phone": phone, "company": company, "notes": notes}
    data |= {
        "source": source.pk if bad_source is None else bad_source,
        "team": team.pk if bad_team is None else bad_team,
    }
    _assert_safe(client.post(reverse("leads:create"), data))


@HYPOTHESIS
@given(name=HOSTILE, email=HOSTILE, phone=HOSTILE, title=HOSTILE, referred_by=HOSTILE)
def test_edit_lead_form(client, rep, lead, name, email, phone, title, referred_by):
    client.force_login(rep)
    data = {"name": name, "email": email, "phone": phone, "title": title, "referred_by": referred_by}
    response = client.post(reverse("leads:edit", args=[lead.pk]), {**data, "source": lead.source_id})
    _assert_safe(response)
    _assert_safe(client.get(reverse("leads:detail", args=[lead.pk])))


@HYPOTHESIS
@given(to_stage=HOSTILE | st.sampled_from(Lead.Stage.values), reason=HOSTILE)
def test_stage_form(client, rep, lead, to_stage, reason):
    client.force_login(rep)
    _assert_safe(client.post(reverse("leads:change_stage", args=[lead.pk]), {"to_stage": to_stage, "reason": reason}))
    _assert_safe(client.get(reverse("leads:detail", args=[lead.pk])))


@HYPOTHESIS
@given(kind=HOSTILE | st.just("call"), outcome=HOSTILE, occurred_at=HOSTILE)
def test_activity_form(client, rep, lead, kind, outcome, occurred_at):
    client.force_login(rep)
    data = {"kind": kind, "outcome": outcome, "occurred_at": occurred_at}
    _assert_safe(client.post(reverse("leads:log_activity", args=[lead.pk]), data))
    _assert_safe(client.get(reverse("leads:detail", args=[lead.pk])))


@HYPOTHESIS
@given(owner=HOSTILE, reason=HOSTILE)
def test_reassign_form(client, manager, lead, owner, reason):
    client.force_login(manager)
    _assert_safe(client.post(reverse("leads:reassign", args=[lead.pk]), {"owner": owner, "reason": reason}))


@HYPOTHESIS
@given(q=HOSTILE, stage=HOSTILE, source=HOSTILE, owner=HOSTILE, page=HOSTILE)
def test_queue_filters(client, manager, lead, q, stage, source, owner, page):
    client.force_login(manager)
    _assert_safe(
        client.get(reverse("leads:queue"), {"q": q, "stage": stage, "source": source, "owner": owner, "page": page})
    )


@HYPOTHESIS
@given(username=HOSTILE, password=HOSTILE)
def test_login_form(client, db, username, password):
    _assert_safe(client.post(reverse("login"), {"username": username, "password": password}))


@pytest.mark.parametrize("field", ["name", "company", "notes"])
def test_html_in_a_lead_is_shown_as_text(client, rep, team, source, field):
    client.force_login(rep)
    data = {"name": "Eve", "email": "eve@example.com", "source": source.pk, "team": team.pk, field: MARKER}
    client.post(reverse("leads:create"), data)
    lead = Lead.objects.get(email="eve@example.com")
    page = client.get(reverse("leads:detail", args=[lead.pk])).content
    assert MARKER.encode() not in page
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in page
