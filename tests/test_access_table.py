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
    "import_job": lambda w: {"pk": w["import_job"].pk},
    "merge_pair": lambda w: {"pk": w["lead"].pk, "other_pk": w["twin"].pk},
    "webform": lambda w: {"slug": w["webform"].slug},
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
ON_RITAS_JOB = dict(rep=200, teammate=404, manager=404, other_manager=404, admin_user=200)
API_ANON = 401
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
    "dashboard:refresh": everyone(405),  # POST-only action (who may: tests/dashboard/test_snapshots.py)
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
    # Import and export: everyone imports into their own leads; a job is its creator's (and admins').
    "intake:import_start": everyone(200),
    "intake:import_mapping": row("import_job", **ON_RITAS_JOB),
    # A job still waiting for its column mapping sends its page to the mapping step.
    "intake:import_detail": row("import_job", **{**ON_RITAS_JOB, "rep": 302, "admin_user": 302}),
    "intake:import_status": row("import_job", **ON_RITAS_JOB),
    "intake:import_errors_csv": row("import_job", **ON_RITAS_JOB),
    "intake:lead_export": everyone(200),
    # The public web-to-lead form is for visitors: no log-in, the same page for everybody.
    "intake:public_form": everyone(200, anonymous=200, args="webform"),
    "intake:public_thanks": everyone(200, anonymous=200, args="webform"),
    "intake:public_token": everyone(200, anonymous=200, args="webform"),  # a fresh form token, for the embed script
    # Merge: both leads must be visible to the user.
    "leads:merge_pick": row("lead", **ON_RITAS_LEAD),
    "leads:merge": row("merge_pair", **ON_RITAS_LEAD),
    # Profile and API tokens: everyone's own.
    "profile": everyone(200),
    "api_token_create": everyone(405),  # POST-only action
    "api_token_revoke": everyone(405, args="any_pk"),  # POST-only action
    # The API answers anonymous callers with a JSON 401, and scopes leads as the pages do.
    "api:docs": everyone(200, anonymous=200),  # the API's reference is public, like its schema
    "api:schema": everyone(200, anonymous=200),
    "api:leads": everyone(200, anonymous=API_ANON),
    "api:lead_detail": row("lead", anonymous=API_ANON, **ON_RITAS_LEAD),
    "api:lead_stage": everyone(405, anonymous=API_ANON, args="lead"),  # POST-only action
    "api:lead_activities": everyone(405, anonymous=API_ANON, args="lead"),  # POST-only action
    "api:followups": everyone(200, anonymous=API_ANON),
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
def world(lead, rep, team, other_team, source, webform, settings, tmp_path):
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
    from django.core.files.uploadedfile import SimpleUploadedFile

    from intake.services import import_job_create

    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("leads.csv", b"Name,Email\nAna,ana@example.com\n", content_type="text/csv")
    import_job = import_job_create(user=rep, upload=upload, team=team, source=source)
    twin = make_lead(owner=rep, team=team, name="Lena Lead (twin)", email="twin@example.com")
    return {
        "lead": lead,
        "helpful_close": close,
        "reason": reason,
        "followup": followup,
        "import_job": import_job,
        "twin": twin,
        "webform": webform,
    }


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
