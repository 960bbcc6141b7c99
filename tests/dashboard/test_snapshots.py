"""Dashboard snapshots: served when fresh, recomputed when stale or asked, refreshed by the beat
task for every manager and the admins, and never shown outside the scope they were computed for."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from dashboard import snapshots
from dashboard.models import DashboardSnapshot
from dashboard.selectors import DashboardFilters, dashboard_build
from dashboard.tasks import snapshots_refresh
from tests.dashboard.conftest import EXPECTED, NOW
from tests.dashboard.test_query_counts import DASHBOARD_QUERIES, SNAPSHOT_QUERIES
from tests.factories import make_lead

INDEX = reverse("dashboard:index")
REFRESH = reverse("dashboard:refresh")


def _fresh(user):
    """The figures computed live now, as the page's default view."""
    return dashboard_build(user=user, filters=DashboardFilters.default(today=timezone.localdate()))


def _figures(dash) -> dict:
    return snapshots.figures_to_json(dash)


def test_a_snapshot_holds_every_figure_of_the_page(pipeline, manager):
    dash = _fresh(manager)
    again = snapshots.figures_from_json(_figures(dash), cooling_leads=dash.cooling_leads)
    assert again.qualification.override_list  # the fixture has an override: it went through
    for field in ("funnel", "exits", "open_now", "total", "speed_total", "speed_by_rep", "sources", "buckets"):
        assert getattr(again, field) == getattr(dash, field), field
    for field in ("reasons", "trend", "discipline", "discipline_total", "filters", "now", "cooling", "cold"):
        assert getattr(again, field) == getattr(dash, field), field
    q, live = again.qualification, dash.qualification
    assert (q.calls, q.passed, q.rules, q.override_leads) == (live.calls, live.passed, live.rules, live.override_leads)
    assert [
        (o.lead.name, o.lead.get_absolute_url(), o.changed_by, o.reason, o.changed_at) for o in q.override_list
    ] == [
        (o.lead.name, o.lead.get_absolute_url(), str(o.changed_by), o.reason, o.changed_at) for o in live.override_list
    ]
    assert again.chart_data() == dash.chart_data()


def test_a_fresh_snapshot_serves_the_page_in_fewer_queries(client, pipeline, manager, django_assert_num_queries):
    client.force_login(manager)
    with django_assert_num_queries(DASHBOARD_QUERIES):  # none yet: computed live, then stored
        first = client.get(INDEX)
    assert DashboardSnapshot.objects.count() == 1
    with django_assert_num_queries(SNAPSHOT_QUERIES):
        second = client.get(INDEX)
    assert second.context["snapshot"].computed_at == first.context["snapshot"].computed_at
    # The same figures as a fresh computation, and the live going-cold panel.
    assert _figures(second.context["dash"]) == _figures(_fresh(manager))
    assert [lead.name for lead in second.context["dash"].cooling_leads] == EXPECTED["cooling_order"]
    page = second.content.decode()
    assert "Figures as of 12:00" in page and "refreshed every 10 min" in page
    assert f'action="{REFRESH}?' in page and ">Refresh now</button>" in page


def test_a_stale_snapshot_is_recomputed(client, pipeline, manager, django_assert_num_queries):
    client.force_login(manager)
    client.get(INDEX)
    later = NOW + snapshots.snapshot_max_age() + timedelta(seconds=1)
    with time_machine.travel(later, tick=False):
        with django_assert_num_queries(DASHBOARD_QUERIES):
            response = client.get(INDEX)
    assert response.context["snapshot"].computed_at == later
    assert DashboardSnapshot.objects.get().computed_at == later
    # Just within the age it is still served.
    with time_machine.travel(later + snapshots.snapshot_max_age(), tick=False):
        with django_assert_num_queries(SNAPSHOT_QUERIES):
            client.get(INDEX)


def test_the_going_cold_list_stays_live_under_a_snapshot(client, pipeline, manager):
    from leads import services

    client.force_login(manager)
    client.get(INDEX)
    l7 = pipeline.leads["L7"]
    services.activity_log(lead=l7, by=l7.owner, kind="call", outcome="Spoke", occurred_at=NOW)
    dash = client.get(INDEX).context["dash"]
    assert "L7" in EXPECTED["cooling_order"]
    assert [lead.name for lead in dash.cooling_leads] == [n for n in EXPECTED["cooling_order"] if n != "L7"]
    # Its counts are the snapshot's (as of its time), like every other figure.
    assert dash.cooling.n == len(EXPECTED["cooling_order"])


def test_refresh_now_recomputes_the_filters_shown(client, pipeline, manager, rep, team):
    client.force_login(manager)
    params = f"team={team.pk}&source={pipeline.web.pk}"
    before = client.get(f"{INDEX}?{params}").context["dash"].total.n
    snap = DashboardSnapshot.objects.get()
    # A new lead the snapshot does not know yet.
    make_lead(owner=rep, team=team, source=pipeline.web, name="L10", received_at=NOW - timedelta(hours=1))
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        assert client.get(f"{INDEX}?{params}").context["dash"].total.n == before
        response = client.post(f"{REFRESH}?{params}")
        assert response.status_code == 302 and response.url == f"{INDEX}?{params}"
        shown = client.get(response.url).context
    snap.refresh_from_db()
    assert snap.computed_at == NOW + timedelta(minutes=1)
    assert shown["snapshot"].computed_at == snap.computed_at
    assert shown["dash"].total.n == before + 1


@pytest.mark.parametrize(
    ("persona", "status"), [("anonymous", 302), ("rep", 403), ("manager", 302), ("admin_user", 302)]
)
def test_refresh_now_is_a_post_for_those_who_open_the_dashboard(client, request, team, persona, status):
    if persona != "anonymous":
        client.force_login(request.getfixturevalue(persona))
    assert client.post(REFRESH).status_code == status
    if persona in ("manager", "admin_user"):
        assert client.get(REFRESH).status_code == 405
    if persona == "anonymous":
        assert reverse("login") in client.post(REFRESH).url
    assert DashboardSnapshot.objects.count() == (persona in ("manager", "admin_user"))


def test_refresh_now_needs_the_csrf_token(pipeline, manager):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)
    page = client.get(INDEX)
    assert client.post(REFRESH).status_code == 403
    token = page.context["csrf_token"]
    assert client.post(REFRESH, {"csrfmiddlewaretoken": str(token)}).status_code == 302


def test_the_beat_task_refreshes_every_managers_default_and_the_admins_view(
    client, pipeline, manager, other_manager, admin_user, django_assert_num_queries
):
    assert snapshots_refresh() == 3  # mona, otto, and the all-teams view the admins share
    rows = {s.user_id: s for s in DashboardSnapshot.objects.all()}
    assert set(rows) == {manager.pk, other_manager.pk, None}
    assert all(s.computed_at == NOW for s in rows.values())
    default = DashboardFilters.default(today=timezone.localdate()).query_params()
    assert all(s.filters == default for s in rows.values())
    assert rows[manager.pk].figures == _figures(_fresh(manager))
    assert rows[None].figures == _figures(_fresh(admin_user))
    # The morning view: served from the beat's snapshot.
    for user in (manager, other_manager, admin_user):
        client.force_login(user)
        with django_assert_num_queries(SNAPSHOT_QUERIES):
            response = client.get(INDEX)
        assert response.context["snapshot"].computed_at == NOW
    # The next run replaces them; one a day old is dropped.
    stale = DashboardSnapshot.objects.create(
        key="x" * 64, filters={}, figures={}, computed_at=NOW - timedelta(days=2), compute_ms=1
    )
    with time_machine.travel(NOW + timedelta(minutes=10), tick=False):
        assert snapshots_refresh() == 3
    assert DashboardSnapshot.objects.count() == 3
    assert not DashboardSnapshot.objects.filter(pk=stale.pk).exists()


def test_the_beat_task_skips_inactive_managers(pipeline, manager, other_manager):
    other_manager.is_active = False
    other_manager.save()
    assert snapshots_refresh() == 1
    assert DashboardSnapshot.objects.get().user == manager


def test_a_snapshot_is_never_shown_outside_its_scope(client, pipeline, manager, other_manager, admin_user):
    client.force_login(manager)
    mona = client.get(INDEX).context["dash"]
    client.force_login(other_manager)
    otto = client.get(INDEX).context
    assert otto["snapshot"].user == other_manager
    assert otto["dash"].total.n == 1 != mona.total.n  # L9 only
    assert _figures(otto["dash"]) == _figures(_fresh(other_manager))
    client.force_login(admin_user)
    ada = client.get(INDEX).context
    assert ada["snapshot"].user is None
    assert ada["dash"].total.n == mona.total.n + 1
    assert DashboardSnapshot.objects.count() == 3
    # Another team's filter is refused (the form offers one's own teams): their own figures show.
    client.force_login(other_manager)
    refused = client.get(INDEX, {"team": manager.managed_teams.get().pk}).context
    assert refused["dash"].total.n == 1


def test_the_key_depends_on_the_scope_the_filters_the_policy_and_the_zone(manager, other_manager, admin_user):
    filters = DashboardFilters.default(today=NOW.date())
    knobs = (15, 3, 7, 24)

    def key(user=manager, f=filters, teams=(1,), k=knobs):
        return snapshots.snapshot_key(user=user, filters=f, team_ids=list(teams), knobs=k)

    base = key()
    assert key() == base
    assert key(user=other_manager) != base
    assert key(teams=(1, 2)) != base
    assert key(f=DashboardFilters.default(today=NOW.date() - timedelta(days=1))) != base
    assert key(k=(30, 3, 7, 24)) != base
    with timezone.override("Europe/Paris"):
        assert key() != base
    assert key(user=admin_user) != base
    assert key(user=admin_user, teams=(1, 2, 3)) == key(user=admin_user)  # all admins: the same scope
