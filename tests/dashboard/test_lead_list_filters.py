"""The lead list's drill-down filters (what the dashboard links to)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.dashboard.conftest import NOW  # noqa: F401  (the pipeline fixture freezes time there)


def _names(client, params):
    response = client.get(reverse("leads:queue"), {"stage": "all", **params})
    assert response.status_code == 200
    assert not response.context["form"].errors, response.context["form"].errors
    return sorted(lead.name for lead in response.context["leads"])


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"received_from": "2026-03-01", "received_to": "2026-03-05"}, ["L1", "L2", "L3", "L4"]),
        ({"reached": "prospect"}, ["L1", "L4", "L5"]),
        ({"reached": "nurture"}, ["L4"]),
        ({"reached": "prospect", "changed_from": "2026-03-10", "changed_to": "2026-03-16"}, ["L4", "L5"]),
        ({"changed_from": "2026-03-15", "changed_to": "2026-03-15"}, ["L6"]),
        ({"contacted": "false"}, ["L3", "L6"]),
        ({"contacted_within": "15"}, ["L1", "L7", "L8"]),
        ({"response": "lt1h"}, ["L2", "L7"]),
        ({"response": "later"}, ["L5"]),
        ({"response": "never"}, ["L3", "L6"]),
        ({"idle_days": "14", "stage": "open"}, ["L7", "L8"]),
        ({"dq_reason": "No budget"}, ["L2", "L3"]),
        ({"dq_reason": "no budget"}, []),  # the key is the reason's label, compared as given
    ],
)
def test_each_drill_down_filter_selects_the_right_leads(client, pipeline, manager, params, expected):
    client.force_login(manager)
    assert _names(client, params) == expected


def test_a_manager_can_filter_by_own_team_only(client, pipeline, manager, team, other_team):
    client.force_login(manager)
    assert len(_names(client, {"team": team.pk})) == 8
    response = client.get(reverse("leads:queue"), {"stage": "all", "team": other_team.pk})
    assert "team" in response.context["form"].errors


def test_a_rep_cannot_widen_their_list_with_drill_down_filters(client, pipeline, rep, other_team):
    client.force_login(rep)
    names = _names(client, {"team": other_team.pk, "reached": "prospect"})
    assert names == ["L1"]  # Rita's own leads only (L5 went to Tom)


@pytest.mark.parametrize(
    "params",
    [
        {"received_from": "yesterday"},
        {"reached": "heaven"},
        {"response": "fast"},
        {"contacted_within": "-3"},
        {"idle_days": "x"},
    ],
)
def test_bad_drill_down_values_are_field_errors_not_500s(client, pipeline, manager, params):
    client.force_login(manager)
    response = client.get(reverse("leads:queue"), params)
    assert response.status_code == 200
    assert response.context["form"].errors


def test_the_list_says_which_drill_down_filters_apply_and_keeps_them_when_searching(client, pipeline, manager):
    client.force_login(manager)
    response = client.get(reverse("leads:queue"), {"stage": "all", "reached": "prospect", "response": "lt1d"})
    html = response.content.decode()
    assert "Only leads with" in html and "Reached: Prospect" in html and "1 h – 1 day" in html
    assert '<input type="hidden" name="reached" value="prospect">' in html
    assert [lead.name for lead in response.context["leads"]] == ["L4"]
