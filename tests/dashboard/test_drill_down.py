"""Every count on the dashboard links to a lead list holding exactly that many leads."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from django.urls import reverse

from dashboard.selectors import DATE_CHANGED, DashboardFilters, Num, Rate, dashboard_build
from tests.dashboard.conftest import NOW


def _nums(obj, path="dash"):
    """Every Num reachable from the dashboard, with where it was found."""
    if isinstance(obj, Num):
        yield path, obj
    elif isinstance(obj, Rate):
        yield from _nums(obj.k, f"{path}.k")
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            yield from _nums(getattr(obj, f.name), f"{path}.{f.name}")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _nums(v, f"{path}[{k!r}]")
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            yield from _nums(v, f"{path}[{i}]")


def _listed(client, url: str) -> int:
    response = client.get(url)
    assert response.status_code == 200, url
    assert not response.context["form"].errors, (url, response.context["form"].errors)
    return response.context["page"].paginator.count


FILTERS = [
    {},
    {"date_field": DATE_CHANGED, "date_from": date(2026, 3, 9), "date_to": date(2026, 3, 15)},
    {"date_from": date(2026, 3, 1), "date_to": date(2026, 3, 11)},  # cuts through weeks and stays
]


@pytest.mark.parametrize("extra", FILTERS, ids=["default", "changed-in", "mid-week-range"])
def test_every_count_equals_the_leads_in_its_linked_list(client, pipeline, manager, extra):
    filters = DashboardFilters(**{**DashboardFilters.default(today=NOW.date()).__dict__, **extra})
    dash = dashboard_build(user=manager, filters=filters, now=NOW)
    client.force_login(manager)
    found = list(_nums(dash))
    assert len(found) > 40  # every panel is walked
    checked: dict[str, int] = {}
    for path, num in found:
        if num.url not in checked:
            checked[num.url] = _listed(client, num.url)
        assert checked[num.url] == num.n, f"{path}: shown {num.n}, listed {checked[num.url]} at {num.url}"
    # Some counts are not zero, so the check means something.
    assert sum(1 for _p, num in found if num.n) > 20


def test_the_rep_and_source_filters_ride_along_in_the_links(client, pipeline, manager, teammate):
    filters = DashboardFilters(**{**DashboardFilters.default(today=NOW.date()).__dict__, "owner_id": teammate.pk})
    dash = dashboard_build(user=manager, filters=filters, now=NOW)
    client.force_login(manager)
    for path, num in _nums(dash):
        assert f"owner={teammate.pk}" in num.url, path
        assert _listed(client, num.url) == num.n, path


def test_the_page_links_match_the_selector(client, pipeline, manager):
    client.force_login(manager)
    response = client.get(reverse("dashboard:index"))
    html = response.content.decode()
    dash = response.context["dash"]
    assert f'href="{dash.total.url.replace("&", "&amp;")}"' in html
    assert html.count('class="num"') > 60
