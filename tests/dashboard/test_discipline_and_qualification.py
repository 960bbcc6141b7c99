"""Follow-up discipline and qualification panels against a hand-computed fixture.

"Now" is Monday 2026-03-16 12:00 UTC (as in conftest.py); range: the default 90 days
2025-12-17 … 2026-03-16; escalation delay 24 h (the policy's default), so "on time" = done
within 24 h of the due time. Team North: manager mona, reps rita and tom. Criteria: BASIC_RULES
(problem confirmed required; budget ≥ 5000 EUR 2 pts, decision maker 1 pt, timeline ≤ 90 days
1 pt; threshold 3). PASSING_ANSWERS have no timeline, so even a passing call fails that rule.

| lead | owner       | stage now  | follow-ups (due → outcome)                                    | calls (held)                   |
|------|-------------|------------|---------------------------------------------------------------|--------------------------------|
| A    | rita        | lead       | 03-02 10:00 done 15:00 (on time); 03-05 10:00 done 03-07 09:00 | 03-03 pass                     |
|      |             |            | (late); 03-16 11:00 pending (overdue, still inside the delay)  |                                |
| B    | tom → rita  | prospect   | agreed 03-10 14:00 done 16:00 (kept); agreed 03-12 09:00 done  | 03-04 fail; 03-09 pass         |
|      | (reassigned)| (override) | 03-13 08:00 (on time, but not on the agreed day); none pending |                                |
| C    | tom         | lead       | nurture → back to lead (its recycle row was cancelled);        | 03-06 fail                     |
|      |             | (back)     | 03-08 10:00 skipped (late); 03-20 10:00 pending (next step)    |                                |
| D    | tom         | nurture    | its recycle (pending, not the rep's)                           |                                |
| E    | tom         | disqual.   | helpful close unsent                                           |                                |
| F    | rita        | disqual.   | helpful close sent                                             |                                |
| G    | tom         | lead       | agreed 03-01 09:00 still pending (overdue, late, date broken)  |                                |
| I    | rita        | lead       | none (received 2025-10-01: old leads count too)                | 2025-11-20 fail (out of range) |
| J    | rita        | lead       | 2025-11-01 10:00 done 11-05 (late, but out of range)           |                                |
| X    | rita        | prospect   | none; override 2025-09-05 (out of range)                       |                                |
| H    | olga (South)| lead       | 03-01 overdue                                                  | 03-05 fail                     |
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from dashboard.selectors import DashboardFilters, dashboard_build
from followups.models import FollowUp
from leads import services
from qualification.models import DisqualificationReason, HelpfulClose
from qualification.services import helpful_close_mark_sent, lead_disqualify
from tests.dashboard.conftest import NOW, at
from tests.dashboard.test_drill_down import _listed, _nums
from tests.factories import FAILING_ANSWERS, make_call, make_criteria, make_lead, make_source


def fu(lead, due, state="pending", done=None, *, agreed=False):
    """A follow-up row as it stands after the fact (the services refuse past due times)."""
    return FollowUp.objects.create(
        lead=lead,
        owner=lead.owner,
        due_at=due,
        instruction="Call back",
        state=state,
        completed_at=done,
        agreed_with_lead=agreed,
    )


@pytest.fixture
def fixture(frozen, rep, teammate, manager, team, other_team, other_rep):
    make_criteria()
    web = make_source("Web")
    no_budget = DisqualificationReason.objects.get(code="no_budget")
    leads = {}

    def new(name, owner, received=None, team_=team):
        received = received or at(3, 1, 8)
        leads[name] = make_lead(owner=owner, team=team_, source=web, name=name, received_at=received)
        return leads[name]

    a = new("A", rep)
    fu(a, at(3, 2, 10), "done", at(3, 2, 15))
    fu(a, at(3, 5, 10), "done", at(3, 7, 9))
    fu(a, at(3, 16, 11))
    make_call(lead=a, held_at=at(3, 3, 10))

    b = new("B", teammate)
    make_call(lead=b, held_at=at(3, 4, 10), **FAILING_ANSWERS)
    services.lead_change_stage(
        lead=b, to_stage="prospect", by=manager, reason="Budget confirmed by email", override=True, at=at(3, 4, 12)
    )
    make_call(lead=b, held_at=at(3, 9, 10))
    services.lead_reassign(lead=b, to_owner=rep, by=manager, reason="Tom is away")
    fu(b, at(3, 10, 14), "done", at(3, 10, 16), agreed=True)
    fu(b, at(3, 12, 9), "done", at(3, 13, 8), agreed=True)

    c = new("C", teammate)
    make_call(lead=c, held_at=at(3, 6, 10), **FAILING_ANSWERS)
    services.lead_change_stage(
        lead=c, to_stage="nurture", by=teammate, at=at(3, 6, 11), nurture_until=NOW + timedelta(days=30)
    )
    services.lead_change_stage(lead=c, to_stage="lead", by=teammate, at=at(3, 7, 9))
    fu(c, at(3, 8, 10), "skipped", at(3, 8, 11))
    fu(c, at(3, 20, 10))

    d = new("D", teammate)
    services.lead_change_stage(
        lead=d, to_stage="nurture", by=teammate, at=at(3, 2, 9), nurture_until=NOW + timedelta(days=30)
    )

    lead_disqualify(lead=new("E", teammate), by=teammate, reason=no_budget, at=at(3, 3, 9))
    lead_disqualify(lead=new("F", rep), by=rep, reason=no_budget, at=at(3, 3, 9))
    helpful_close_mark_sent(close=HelpfulClose.objects.get(lead=leads["F"]), by=rep)

    fu(new("G", teammate), at(3, 1, 9), agreed=True)

    i = new("I", rep, at(10, 1, 10, year=2025))
    make_call(lead=i, held_at=at(11, 20, 10, year=2025), **FAILING_ANSWERS)

    fu(new("J", rep, at(10, 1, 10, year=2025)), at(11, 1, 10, year=2025), "done", at(11, 5, 10, year=2025))

    x = new("X", rep, at(9, 1, 10, year=2025))
    services.lead_change_stage(
        lead=x, to_stage="prospect", by=manager, reason="Old override", override=True, at=at(9, 5, 10, year=2025)
    )

    h = new("H", other_rep, team_=other_team)
    fu(h, at(3, 1, 9))
    make_call(lead=h, held_at=at(3, 5, 10), **FAILING_ANSWERS)
    return leads


def _build(user, **kw):
    filters = DashboardFilters.default(today=NOW.date())
    if kw:
        filters = DashboardFilters(**{**filters.__dict__, **kw})
    return dashboard_build(user=user, filters=filters, now=NOW)


def _row(rows, label):
    return next(r for r in rows if r.label == label)


# (open, overdue, no next step, on time k/n, late leads, agreed kept k/n, broken leads, unsent)
EXPECTED_DISCIPLINE = {
    "Rita Rep": (5, 1, 4, (3, 4), 1, (1, 2), 1, 0),  # A B I J X / A / B I J X / f1 f4 f5 of +f2 / A / B
    "Tom Teammate": (2, 1, 0, (0, 2), 2, (0, 1), 1, 1),  # C G / G / — / C-skip, G / C G / G / G / E
    "All": (7, 2, 4, (3, 6), 3, (1, 3), 2, 1),
}


def _discipline_tuple(r):
    return (
        r.open.n,
        r.overdue.n,
        r.no_next_step.n,
        (r.on_time.k, r.on_time.n),
        r.late.n,
        (r.agreed.k, r.agreed.n),
        r.broken.n,
        r.unsent.n,
    )


def test_follow_up_discipline_per_rep_matches_the_hand_computed_figures(fixture, manager):
    dash = _build(manager)
    got = {r.label: _discipline_tuple(r) for r in dash.discipline}
    got["All"] = _discipline_tuple(dash.discipline_total)
    assert got == EXPECTED_DISCIPLINE
    assert _row(dash.discipline, "Rita Rep").on_time.pct == pytest.approx(75.0)


def test_the_reassigned_lead_counts_for_its_new_owner(fixture, manager, rep):
    # B (tom → rita): its broken agreed date and missing next step are Rita's.
    rita = _row(_build(manager).discipline, "Rita Rep")
    assert rita.broken.n == 1 and rita.key == rep.pk


def test_the_rep_filter_keeps_only_that_reps_row(fixture, manager, teammate):
    dash = _build(manager, owner_id=teammate.pk)
    assert [r.label for r in dash.discipline] == ["Tom Teammate"]
    assert _discipline_tuple(dash.discipline_total) == EXPECTED_DISCIPLINE["Tom Teammate"]


def test_a_narrower_range_judges_only_the_follow_ups_due_in_it(fixture, manager):
    from datetime import date

    dash = _build(manager, date_from=date(2026, 3, 9), date_to=date(2026, 3, 16))
    # Due 03-09 … 03-16 and judged: f4, f5 (B, both on time); f3 (A) is pending inside the delay.
    assert (dash.discipline_total.on_time.k, dash.discipline_total.on_time.n) == (2, 2)
    assert dash.discipline_total.late.n == 0
    assert (dash.discipline_total.agreed.k, dash.discipline_total.agreed.n) == (1, 2)
    # As-of-now figures do not move with the range.
    assert dash.discipline_total.overdue.n == 2


def test_qualification_pass_rate_failing_rules_and_overrides(fixture, manager):
    q = _build(manager).qualification
    assert q.calls == 4  # A 03-03, B 03-04, B 03-09, C 03-06 (I's is out of range, H's another team)
    assert (q.passed.k, q.passed.n) == (2, 4)
    assert q.passed.pct == pytest.approx(50.0)
    assert (q.leads_called.n, q.leads_passed.n, q.leads_failed.n) == (3, 2, 2)
    assert [(r.label, r.calls, r.leads.n) for r in q.rules] == [
        ("Timeline within a number of days", 4, 3),
        ("Budget at least a minimum", 2, 2),
        ("Problem confirmed", 2, 2),
    ]
    assert (q.overrides, q.override_leads.n) == (1, 1)
    (override,) = q.override_list
    assert (override.lead.name, override.changed_by.username, override.reason) == (
        "B",
        "mona",
        "Budget confirmed by email",
    )
    assert override.changed_at == at(3, 4, 12)


def test_every_new_count_equals_the_leads_in_its_linked_list(client, fixture, manager):
    dash = _build(manager)
    client.force_login(manager)
    found = list(_nums(dash.discipline)) + list(_nums(dash.discipline_total)) + list(_nums(dash.qualification))
    assert len(found) == 3 * 6 + 4 + 3  # 2 reps + total × 6; calls 3, overrides 1; 3 failing rules
    for path, num in found:
        assert "drill=" in num.url or "stage=open" in num.url, path
        assert _listed(client, num.url) == num.n, f"{path}: shown {num.n} at {num.url}"
    assert sum(1 for _p, num in found if num.n) >= 15


def test_drilled_lists_hold_the_expected_leads(client, fixture, manager, rep):
    client.force_login(manager)
    dash = _build(manager)
    rita = _row(dash.discipline, "Rita Rep")

    def names(url):
        return sorted(lead.name for lead in client.get(url).context["leads"])

    assert names(rita.no_next_step.url) == ["B", "I", "J", "X"]
    assert names(dash.discipline_total.late.url) == ["A", "C", "G"]
    assert names(dash.discipline_total.unsent.url) == ["E"]
    assert names(dash.qualification.leads_failed.url) == ["B", "C"]
    assert names(dash.qualification.override_leads.url) == ["B"]


def test_the_page_and_csvs_show_the_new_panels(client, fixture, manager):
    client.force_login(manager)
    html = client.get(reverse("dashboard:index")).content.decode()
    assert 'id="discipline"' in html and 'id="qualification"' in html
    assert "Budget confirmed by email" in html
    rows = client.get(reverse("dashboard:csv", args=["discipline"])).content.decode().splitlines()
    assert rows[0].startswith("rep,open_leads,")
    assert rows[1] == "Rita Rep,5,1,4,4,3,75.0,1,2,1,50.0,1,0"
    assert rows[-1].startswith("All,7,2,4,6,3,50.0,3,3,1,")
    rules = client.get(reverse("dashboard:csv", args=["rules"])).content.decode().splitlines()
    assert rules[1] == "Timeline within a number of days,4,3,4,2,50.0"
    overrides = client.get(reverse("dashboard:csv", args=["overrides"])).content.decode().splitlines()
    assert len(overrides) == 2 and overrides[1].startswith("B,")


def test_another_teams_manager_sees_none_of_it(fixture, other_manager):
    dash = _build(other_manager)
    assert [r.label for r in dash.discipline] == ["Olga Other"]
    assert dash.discipline_total.overdue.n == 1
    assert dash.qualification.calls == 1 and dash.qualification.overrides == 0


def test_reps_cannot_open_the_dashboard_or_its_csvs(client, fixture, rep):
    client.force_login(rep)
    assert client.get(reverse("dashboard:index")).status_code == 403
    for table in ("discipline", "rules", "overrides"):
        assert client.get(reverse("dashboard:csv", args=[table])).status_code == 403
