"""Every named URL, tried with GET as each persona, against an explicit table of expected answers.

The list of URLs comes from the URL conf itself: a URL added without a row in ACCESS fails
`test_every_url_has_an_expected_access_row`, so nobody ships a page whose access was never decided.
(Django admin's own pages are covered by its staff check; only its index is listed.)
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

PERSONAS = ["anonymous", "rep", "teammate", "manager", "other_manager", "admin_user"]
LOGIN = "login"  # redirected to the log-in page

# How to fill a URL's arguments, from the objects of the `world` fixture.
ARGS = {
    "lead": lambda w: {"pk": w["lead"].pk},
    "helpful_close": lambda w: {"pk": w["helpful_close"].pk},
    "reason": lambda w: {"pk": w["reason"].pk},
    "csv_table": lambda w: {"table": "funnel"},
    "lead_pk": lambda w: {"lead_pk": w["lead"].pk},
    "followup": lambda w: {"pk": w["followup"].pk},
    "any_pk": lambda w: {"pk": 1},  # POST-only actions answer 405 before looking anything up
}


def row(args=None, *, anonymous=LOGIN, rep, teammate, manager, other_manager, admin_user):
    return {
        "args": args,
        "expect": {
            "anonymous": anonymous,
            "rep": rep,
            "teammate": teammate,
            "manager": manager,
            "other_manager": other_manager,
            "admin_user": admin_user,
        },
    }


def everyone(status, *, anonymous=LOGIN, args=None):
    return row(
        args, anonymous=anonymous, rep=status, teammate=status, manager=status, other_manager=status, admin_user=status
    )


# Rita (`rep`) owns the lead; `manager` runs her team; `teammate` is in her team;
# `other_manager` runs another team.
ON_RITAS_LEAD = dict(rep=200, teammate=404, manager=200, other_manager=404, admin_user=200)
ADMINS_ONLY = dict(rep=403, teammate=403, manager=403, other_manager=403, admin_user=200)

ACCESS = {
    "home": everyone(302, anonymous=302),
    "login": everyone(302, anonymous=200),
    "logout": everyone(405, anonymous=405),
    "password_change": everyone(200),
    "password_change_done": everyone(200),
    "leads:queue": everyone(200),
    "leads:create": everyone(200),
    "leads:detail": row("lead", **ON_RITAS_LEAD),
    "leads:edit": row("lead", **ON_RITAS_LEAD),
    "leads:change_stage": everyone(405, args="lead"),  # POST-only action
    "leads:log_activity": everyone(405, args="lead"),  # POST-only action
    "leads:reassign": row("lead", rep=403, teammate=404, manager=200, other_manager=404, admin_user=200),
    "qualification:call_new": row("lead", **ON_RITAS_LEAD),
    "qualification:disqualify": row("lead", **ON_RITAS_LEAD),
    "qualification:nurture": row("lead", **ON_RITAS_LEAD),
    "qualification:helpful_close": row("helpful_close", **ON_RITAS_LEAD),
    "qualification:criteria": row(**ADMINS_ONLY),
    "qualification:reasons": row(**ADMINS_ONLY),
    "qualification:reason_new": row(**ADMINS_ONLY),
    "qualification:reason_edit": row("reason", **ADMINS_ONLY),
    # Reps have no team dashboard (403); each manager sees the teams they manage.
    "dashboard:index": row(rep=403, teammate=403, manager=200, other_manager=200, admin_user=200),
    "dashboard:csv": row("csv_table", rep=403, teammate=403, manager=200, other_manager=200, admin_user=200),
    "dashboard:bulk_reassign": everyone(405),  # POST-only action
    "followups:mine": everyone(200),
    "followups:add": row("lead_pk", **ON_RITAS_LEAD),
    "followups:complete": row("followup", **ON_RITAS_LEAD),
    "followups:snooze": row("followup", **ON_RITAS_LEAD),
    "followups:reschedule": row("followup", **ON_RITAS_LEAD),
    "followups:skip": everyone(405, args="followup"),  # POST-only action
    "followups:notifications": everyone(200),
    "followups:unread_count": everyone(200),
    "followups:read_all": everyone(405),  # POST-only action
    "followups:open": everyone(405, args="any_pk"),  # POST-only action
    "followups:read": everyone(405, args="any_pk"),  # POST-only action
    "admin:index": row(anonymous=302, rep=302, teammate=302, manager=302, other_manager=302, admin_user=200),
}


def _named_urls(patterns=None, namespace=""):
    for p in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(p, URLResolver):
            ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
            if ns == "admin:":
                continue
            yield from _named_urls(p.url_patterns, ns)
        elif isinstance(p, URLPattern) and p.name:
            yield f"{namespace}{p.name}"


def test_every_url_has_an_expected_access_row():
    missing = sorted(set(_named_urls()) - set(ACCESS))
    assert missing == [], f"Decide who may open these URLs and add them to ACCESS: {missing}"


@pytest.fixture
def world(lead, rep, team, other_team):
    from qualification.models import DisqualificationReason
    from qualification.services import lead_disqualify
    from tests.factories import make_lead

    reason = DisqualificationReason.objects.get(code="no_budget")
    close = lead_disqualify(lead=make_lead(owner=rep, team=team), by=rep, reason=reason)
    from datetime import timedelta

    from django.utils import timezone

    from followups.services import followup_add

    followup = followup_add(
        lead=lead, owner=rep, due_at=timezone.now() + timedelta(days=1), kind="call", instruction="Call back", by=rep
    )
    return {"lead": lead, "helpful_close": close, "reason": reason, "followup": followup}


CASES = [(name, persona) for name in ACCESS for persona in PERSONAS]


@pytest.mark.parametrize(("name", "persona"), CASES, ids=[f"{n}-{p}" for n, p in CASES])
def test_get_answers_as_the_table_says(client, request, world, name, persona):
    entry = ACCESS[name]
    kwargs = ARGS[entry["args"]](world) if entry["args"] else {}
    if persona != "anonymous":
        client.force_login(request.getfixturevalue(persona))

    response = client.get(reverse(name, kwargs=kwargs))

    expected = entry["expect"][persona]
    if expected == LOGIN:
        assert response.status_code == 302 and response.url.startswith(reverse("login")), response
    else:
        assert response.status_code == expected, f"{name} as {persona}"
