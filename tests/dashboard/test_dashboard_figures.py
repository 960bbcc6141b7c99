"""Every dashboard figure against the hand-computed fixture (tests/dashboard/conftest.py)."""

from __future__ import annotations

from datetime import date

import pytest

from dashboard.selectors import DATE_CHANGED, DashboardFilters, dashboard_build, wilson_interval
from tests.dashboard.conftest import EXPECTED, NOW, expected_week


def _build(user, **kw):
    filters = DashboardFilters.default(today=NOW.date())
    if kw:
        filters = DashboardFilters(**{**filters.__dict__, **kw})
    return dashboard_build(user=user, filters=filters, now=NOW)


def test_the_default_range_is_the_last_90_days_ending_today():
    f = DashboardFilters.default(today=date(2026, 3, 16))
    assert (f.date_from, f.date_to) == (date(2025, 12, 17), date(2026, 3, 16))
    assert (f.date_to - f.date_from).days + 1 == 90


def test_the_funnel_counts_leads_reaching_each_stage_including_skips_and_returns(pipeline, manager):
    dash = _build(manager)
    assert dash.total.n == EXPECTED["total"]
    assert [s["reached"].n for s in dash.funnel] == [7, 3, 1]
    assert {e["stage"]: e["count"].n for e in dash.exits} == {
        k: v for k, v in EXPECTED["reached"].items() if k in ("disqualified", "lost", "nurture")
    }
    assert [o["count"].n for o in dash.open_now] == [EXPECTED["open"]["lead"], EXPECTED["open"]["prospect"]]


def test_the_funnel_gives_stage_to_stage_conversion_and_drop_off(pipeline, manager):
    lead, prospect, _customer = _build(manager).funnel
    assert lead["conversion"].pct == pytest.approx(100 * 3 / 7)
    assert lead["drop_pct"] == pytest.approx(100 * 4 / 7)
    assert prospect["conversion"].pct == pytest.approx(100 * 1 / 3)
    assert prospect["drop_pct"] == pytest.approx(100 * 2 / 3)


def test_median_time_in_stage_counts_each_finished_stay(pipeline, manager):
    dash = _build(manager)
    got = {s["stage"]: s["median_days"] for s in dash.funnel}
    got.update({e["stage"]: e["median_days"] for e in dash.exits if e["median_days"] is not None})
    assert got["lead"] == EXPECTED["median_days"]["lead"]
    assert got["prospect"] == EXPECTED["median_days"]["prospect"]
    assert got["nurture"] == EXPECTED["median_days"]["nurture"]
    assert got["customer"] is None  # an outcome: no stay to time


def test_speed_to_lead_gives_median_p90_and_the_sla_share(pipeline, manager):
    total = _build(manager).speed_total
    assert total.contacted.k.n == EXPECTED["contacted"]
    assert total.within_sla.k.n == EXPECTED["within_sla"]
    assert total.within_sla.pct == pytest.approx(100 * 2 / 7)
    assert total.median_min == pytest.approx(EXPECTED["response_median_min"], abs=0.05)
    assert total.p90_min == pytest.approx(EXPECTED["response_p90_min"], abs=0.05)


def test_the_sla_comes_from_the_follow_up_policy(pipeline, manager):
    from followups.models import FollowUpPolicy

    policy = FollowUpPolicy.load()
    policy.sla_minutes = 30
    policy.save()
    dash = _build(manager)
    assert dash.sla_minutes == 30
    assert dash.speed_total.within_sla.k.n == 3  # L2's 30 minutes now count


def test_speed_to_lead_by_rep_follows_the_current_owner_after_reassignment(pipeline, manager):
    reps = {r.label: r.leads.n for r in _build(manager).speed_by_rep}
    assert reps == EXPECTED["reps"]


def test_source_quality_per_source(pipeline, manager):
    rows = {s.label: s for s in _build(manager).sources}
    assert set(rows) == set(EXPECTED["sources"])
    for name, (n, contacted, sla, prospects, customers, disq, lost, nurture, median) in EXPECTED["sources"].items():
        s = rows[name]
        assert (s.leads.n, s.contacted.k.n, s.within_sla.k.n) == (n, contacted, sla), name
        assert (s.lead_to_prospect.k.n, s.lead_to_prospect.n) == (prospects, n), name
        assert (s.prospect_to_customer.k.n, s.prospect_to_customer.n) == (customers, prospects), name
        assert (s.disqualified.n, s.lost.n, s.nurture.n) == (disq, lost, nurture), name
        assert s.median_min == pytest.approx(median, abs=0.05), name
        assert s.too_few  # 3 or 4 leads are below the 30-lead threshold


def test_conversion_carries_a_wilson_95_percent_interval(pipeline, manager):
    lead = _build(manager).funnel[0]
    low, high = lead["conversion"].interval  # 3 of 7
    assert (round(low, 1), round(high, 1)) == (15.8, 75.0)


def test_wilson_interval_matches_known_values():
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    assert wilson_interval(50, 100) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    assert wilson_interval(0, 0) is None


def test_the_too_few_mark_follows_the_threshold(pipeline, manager, monkeypatch):
    monkeypatch.setattr("dashboard.selectors._min_sample", lambda: 4)
    rows = {s.label: s for s in _build(manager).sources}
    assert not rows["Web"].too_few  # 4 leads
    assert rows["Partner"].too_few  # 3 leads


def test_disqualification_reasons_are_grouped_by_one_key(pipeline, manager):
    dash = _build(manager)
    assert [(k, n.n) for k, n in dash.reasons] == EXPECTED["reasons"]
    web = next(s for s in dash.sources if s.label == "Web")
    assert [(k, n.n) for k, n in web.reasons] == EXPECTED["reasons"]


def test_conversion_by_response_bucket_and_the_same_speed_comparison(pipeline, manager):
    dash = _build(manager)
    got = {b["code"]: (b["leads"].n, b["lead_to_prospect"].k.n, b["prospect_to_customer"].k.n) for b in dash.buckets}
    assert got == EXPECTED["buckets"]
    partner = next(s for s in dash.sources if s.label == "Partner")
    assert {code: (c["leads"].n, c["lead_to_prospect"].k.n) for code, c in partner.buckets.items()} == {
        "lt1d": (1, 1),  # L4
        "later": (1, 1),  # L5
        "never": (1, 0),  # L6
    }


def test_the_weekly_trend_counts_arrivals_and_moves_per_week(pipeline, manager):
    dash = _build(manager)
    assert dash.trend[0]["first"] == date(2025, 12, 17)  # clipped to the range
    assert dash.trend[-1]["last"] == date(2026, 3, 16)
    for week in dash.trend:
        want = expected_week(week["week"])
        assert {k: week[k].n for k in want} == want, week["week"]
    assert sum(w["received"].n for w in dash.trend) == EXPECTED["total"]


def test_going_cold_lists_open_untouched_leads_oldest_first_whatever_the_range(pipeline, manager):
    dash = _build(manager)
    assert dash.cooling.n == EXPECTED["cooling"]
    assert dash.cold.n == EXPECTED["cold"]
    assert [lead.name for lead in dash.cooling_leads] == EXPECTED["cooling_order"]
    assert [lead.is_cold_now for lead in dash.cooling_leads] == [True, True, False]


def test_the_changed_in_range_mode_counts_moves_inside_the_range(pipeline, manager):
    dash = _build(manager, date_from=date(2026, 3, 9), date_to=date(2026, 3, 15), date_field=DATE_CHANGED)
    # Leads with a move in 03-09…03-15: L4 (back to lead, → prospect), L5 (created, → prospect, → lost), L6 (created).
    assert dash.total.n == 3
    assert [s["reached"].n for s in dash.funnel] == [3, 2, 0]
    assert {e["stage"]: e["count"].n for e in dash.exits} == {"disqualified": 0, "lost": 1, "nurture": 0}


def test_filters_by_rep_and_source_narrow_every_panel(pipeline, manager, teammate):
    dash = _build(manager, owner_id=teammate.pk)
    assert dash.total.n == 4  # L3 L4 L5 L6
    assert [s["reached"].n for s in dash.funnel] == [4, 2, 0]
    dash = _build(manager, source_id=pipeline.partner.pk)
    assert dash.total.n == 3
    assert [s.label for s in dash.sources] == ["Partner"]
    assert dash.cooling.n == 1  # L4 only


def test_a_manager_never_sees_another_teams_leads_and_an_admin_sees_all(pipeline, manager, other_manager, admin_user):
    assert _build(manager).total.n == 7
    assert _build(other_manager).total.n == 1  # L9
    assert _build(admin_user).total.n == 8
