"""Who may open the dashboard, what they see, CSV downloads and bulk reassignment."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from leads.models import Assignment, Lead
from tests.factories import make_lead, make_source

PERSONAS = ["anonymous", "rep", "teammate", "other_rep", "manager", "other_manager", "admin_user"]
# Reps get 403: the team dashboard compares people, and a rep's own work is their queue.
STATUS = {"rep": 403, "teammate": 403, "other_rep": 403, "manager": 200, "other_manager": 200, "admin_user": 200}


def _login(client, request, persona):
    if persona != "anonymous":
        client.force_login(request.getfixturevalue(persona))
    return client


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("url", [reverse("dashboard:index"), reverse("dashboard:csv", args=["funnel"])])
def test_only_managers_and_admins_open_the_dashboard(client, request, team, other_team, persona, url):
    response = _login(client, request, persona).get(url)
    if persona == "anonymous":
        assert response.status_code == 302 and response.url.startswith(reverse("login"))
    else:
        assert response.status_code == STATUS[persona]


def test_the_nav_shows_the_dashboard_link_only_to_those_who_may_open_it(client, rep, manager, team):
    client.force_login(rep)
    assert reverse("dashboard:index") not in client.get(reverse("leads:queue")).content.decode()
    client.force_login(manager)
    assert reverse("dashboard:index") in client.get(reverse("leads:queue")).content.decode()


def test_a_manager_sees_only_their_teams_and_cannot_pick_another(client, pipeline, manager, other_team):
    client.force_login(manager)
    response = client.get(reverse("dashboard:index"))
    assert response.context["dash"].total.n == 7
    teams = [label for value, label in response.context["form"].fields["team"].choices if value]
    assert teams == ["North"]
    # Asking for another team's numbers is refused as a bad filter: the defaults (own teams) are shown.
    response = client.get(reverse("dashboard:index"), {"team": other_team.pk})
    assert response.status_code == 200
    assert "team" in response.context["form"].errors
    assert response.context["dash"].total.n == 7


def test_an_admin_sees_every_team_and_can_pick_one(client, pipeline, admin_user, other_team):
    client.force_login(admin_user)
    assert client.get(reverse("dashboard:index")).context["dash"].total.n == 8
    response = client.get(reverse("dashboard:index"), {"team": other_team.pk})
    assert response.context["dash"].total.n == 1


@pytest.mark.parametrize(
    "params",
    [
        {"date_from": "2026-03-20", "date_to": "2026-03-01"},
        {"date_from": "not a date"},
        {"date_from": "2020-01-01", "date_to": "2026-03-01"},
        {"rep": "abc"},
        {"source": "999999"},
        {"date_field": "whenever"},
    ],
)
def test_bad_filters_give_field_errors_and_the_defaults_never_a_500(client, pipeline, manager, params):
    client.force_login(manager)
    response = client.get(reverse("dashboard:index"), params)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert response.context["dash"].total.n == 7


def test_the_page_renders_charts_data_without_inline_script(client, pipeline, manager):
    client.force_login(manager)
    html = client.get(reverse("dashboard:index")).content.decode()
    assert 'id="dashboard-data" type="application/json"' in html
    assert "vendor/chartjs/chart.umd.min.js" in html and "js/dashboard.js" in html
    # Every <script> is either a file or the JSON data block.
    for chunk in html.split("<script")[1:]:
        assert chunk.lstrip().startswith(("src=", 'id="dashboard-data"')), chunk[:80]
    assert "Follow-up discipline" in html and "Qualification" in html  # placeholders until issues 3 and 4


def test_chart_js_is_served_by_the_app(client, manager):
    client.force_login(manager)
    response = client.get("/static/vendor/chartjs/chart.umd.min.js")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "table",
    ["funnel", "sources", "speed-reps", "speed-sources", "buckets", "source-buckets", "reasons", "trend", "cooling"],
)
def test_each_table_downloads_as_csv(client, pipeline, manager, table):
    client.force_login(manager)
    response = client.get(reverse("dashboard:csv", args=[table]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(
        csv.reader(
            io.StringIO(b"".join(response.streaming_content if response.streaming else [response.content]).decode())
        )
    )
    assert len(rows) >= 2


def test_the_csv_holds_the_page_numbers(client, pipeline, manager):
    client.force_login(manager)
    rows = list(csv.DictReader(io.StringIO(client.get(reverse("dashboard:csv", args=["sources"])).content.decode())))
    web = next(r for r in rows if r["source"] == "Web")
    assert (web["leads"], web["prospects"], web["customers"], web["disqualified"]) == ("4", "1", "1", "2")


def test_an_unknown_csv_table_is_404(client, manager):
    client.force_login(manager)
    assert client.get(reverse("dashboard:csv", args=["nope"])).status_code == 404


def test_csv_cells_cannot_run_as_formulas(client, frozen, manager, rep, team):
    evil = make_source('=HYPERLINK("http://x")')
    make_lead(owner=rep, team=team, source=evil, received_at=frozen)
    client.force_login(manager)
    content = client.get(reverse("dashboard:csv", args=["sources"])).content.decode()
    assert "'=HYPERLINK" in content
    assert "\n=HYPERLINK" not in content and ",=HYPERLINK" not in content


# --- Bulk reassign -------------------------------------------------------------------------------


def _cooling_ids(pipeline, *names):
    return [pipeline.leads[n].pk for n in names]


def test_bulk_reassign_gives_the_ticked_leads_to_a_teammate(client, pipeline, manager, teammate):
    client.force_login(manager)
    ids = _cooling_ids(pipeline, "L7", "L8")
    response = client.post(
        reverse("dashboard:bulk_reassign") + "?source=" + str(pipeline.web.pk),
        {"leads": ids, "owner": teammate.pk, "reason": "Rita is on holiday"},
    )
    assert response.status_code == 302
    assert response.url == reverse("dashboard:index") + f"?source={pipeline.web.pk}#cooling"
    assert set(Lead.objects.filter(pk__in=ids).values_list("owner_id", flat=True)) == {teammate.pk}
    rows = Assignment.objects.filter(lead_id__in=ids, to_owner=teammate, reason="Rita is on holiday")
    assert rows.count() == 2


def test_bulk_reassign_is_all_or_nothing(client, pipeline, admin_user, rep, teammate, other_rep):
    client.force_login(admin_user)
    # The admin may pick anyone of any team; Tom is in North, so L7 could go to him but L9
    # (South) cannot: the service refuses L9 and L7's change is rolled back with it.
    l7, l9 = pipeline.leads["L7"], pipeline.leads["L9"]
    response = client.post(reverse("dashboard:bulk_reassign"), {"leads": [l7.pk, l9.pk], "owner": teammate.pk})
    assert response.status_code == 400
    assert response.context["reassign_form"].errors
    assert Lead.objects.get(pk=l7.pk).owner == rep
    assert Lead.objects.get(pk=l9.pk).owner == other_rep
    assert not Assignment.objects.filter(to_owner=teammate, lead__in=[l7, l9]).exists()


def test_bulk_reassign_refuses_a_non_member_owner_with_a_field_error(client, pipeline, manager, rep):
    client.force_login(manager)
    response = client.post(reverse("dashboard:bulk_reassign"), {"leads": _cooling_ids(pipeline, "L7"), "owner": ""})
    assert response.status_code == 400
    assert "owner" in response.context["reassign_form"].errors
    assert Lead.objects.get(pk=pipeline.leads["L7"].pk).owner == rep


def test_bulk_reassign_ignores_leads_of_other_teams(client, pipeline, manager, teammate, other_rep):
    client.force_login(manager)
    l9 = pipeline.leads["L9"]
    response = client.post(reverse("dashboard:bulk_reassign"), {"leads": [l9.pk], "owner": teammate.pk})
    assert response.status_code == 400
    assert "leads" in response.context["reassign_form"].errors
    l9.refresh_from_db()
    assert l9.owner == other_rep


@pytest.mark.parametrize("persona", ["rep", "teammate"])
def test_reps_cannot_bulk_reassign(client, request, pipeline, persona, teammate):
    client.force_login(request.getfixturevalue(persona))
    response = client.post(
        reverse("dashboard:bulk_reassign"), {"leads": _cooling_ids(pipeline, "L7"), "owner": teammate.pk}
    )
    assert response.status_code == 403
    assert pipeline.leads["L7"].owner != teammate
    assert Lead.objects.get(pk=pipeline.leads["L7"].pk).owner_id != teammate.pk


def test_bulk_reassign_is_post_only(client, manager):
    client.force_login(manager)
    assert client.get(reverse("dashboard:bulk_reassign")).status_code == 405


def test_anonymous_bulk_reassign_goes_to_login(client, pipeline, teammate):
    response = client.post(
        reverse("dashboard:bulk_reassign"), {"leads": _cooling_ids(pipeline, "L7"), "owner": teammate.pk}
    )
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
