"""A small pipeline whose every dashboard figure was worked out by hand (see EXPECTED).

"Now" is Monday 2026-03-16 12:00 UTC; everyone's zone is UTC; the default range is the 90 days
2025-12-17 … 2026-03-16. Team North (manager mona; reps rita, tom), sources Web and Partner.

| lead | src | owner      | received        | first contact | history                                                    |
|------|-----|------------|-----------------|---------------|------------------------------------------------------------|
| L1   | Web | rita       | 03-01 09:00     | +3 min        | → prospect 03-03 09:00 → customer 03-08 09:00                |
| L2   | Web | rita       | 03-02 10:00     | +30 min       | → disqualified 03-02 12:00 "No budget"                       |
| L3   | Web | tom        | 03-05 08:00     | never         | → disqualified 03-05 08:10 "NO BUDGET" (straight away)       |
| L4   | Ptn | tom        | 03-04 10:00     | +2 h          | → nurture 03-06 10:00 → lead 03-10 10:00 (back) → prospect 03-12 10:00 |
| L5   | Ptn | rita → tom | 03-09 10:00     | +2 days       | → prospect 03-12 10:00 → lost 03-14 10:00 "Went with a competitor"; reassigned to tom |
| L6   | Ptn | tom        | 03-15 11:00     | never         | (open lead)                                                |
| L7   | Web | rita       | 01-20 10:00     | +10 min       | (open lead, untouched since: cold)                          |
| L8   | Web | rita       | 2025-10-01 10:00| +1 min        | (open lead, outside the range: only in "going cold")        |
| L9   | Web | olga (South team) | 03-05 09:00 | never     | another manager's team: never in mona's numbers             |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from leads import services
from leads.models import Lead
from qualification.models import DisqualificationReason
from tests.factories import make_lead, make_source

NOW = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)


def at(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@dataclass
class Pipeline:
    leads: dict[str, Lead]
    web: object
    partner: object


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def pipeline(frozen, rep, teammate, manager, team, other_team, other_rep) -> Pipeline:
    web, partner = make_source("Web"), make_source("Partner")
    leads: dict[str, Lead] = {}

    def new(name, source, owner, received, *, team_=team):
        leads[name] = make_lead(owner=owner, team=team_, source=source, name=name, received_at=received)
        return leads[name]

    def contact(lead, occurred):
        services.activity_log(lead=lead, by=lead.owner, kind="call", outcome="Spoke", occurred_at=occurred)

    def move(lead, to, when, reason="", by=None):
        # What each move needs besides a reason: past the gate by a manager's override, a listed
        # reason to disqualify (free texts mapped onto the list), a future date for nurture.
        extra = {}
        if to == "prospect":
            extra = {"override": True}
        elif to == "disqualified":
            code = "no_budget" if "budget" in reason.lower() else "other"
            extra = {"disqualification_reason": DisqualificationReason.objects.get(code=code)}
        elif to == "nurture":
            extra = {"nurture_until": NOW + timedelta(days=30)}
        services.lead_change_stage(lead=lead, to_stage=to, by=by or lead.owner, reason=reason, at=when, **extra)

    l1 = new("L1", web, rep, at(3, 1, 9))
    contact(l1, at(3, 1, 9, 3))
    move(l1, "prospect", at(3, 3, 9), "Override: budget confirmed", by=manager)
    move(l1, "customer", at(3, 8, 9))

    l2 = new("L2", web, rep, at(3, 2, 10))
    contact(l2, at(3, 2, 10, 30))
    move(l2, "disqualified", at(3, 2, 12), "No budget")

    l3 = new("L3", web, teammate, at(3, 5, 8))
    move(l3, "disqualified", at(3, 5, 8, 10), "NO BUDGET")

    l4 = new("L4", partner, teammate, at(3, 4, 10))
    contact(l4, at(3, 4, 12))
    move(l4, "nurture", at(3, 6, 10))
    move(l4, "lead", at(3, 10, 10))
    move(l4, "prospect", at(3, 12, 10), "Override: ready now", by=manager)

    l5 = new("L5", partner, rep, at(3, 9, 10))
    contact(l5, at(3, 11, 10))
    move(l5, "prospect", at(3, 12, 10), "Override: qualified", by=manager)
    move(l5, "lost", at(3, 14, 10), "Went with a competitor")
    services.lead_reassign(lead=l5, to_owner=teammate, by=manager, reason="Rita is away")

    new("L6", partner, teammate, at(3, 15, 11))

    l7 = new("L7", web, rep, at(1, 20, 10))
    contact(l7, at(1, 20, 10, 10))

    l8 = new("L8", web, rep, at(10, 1, 10, year=2025))
    contact(l8, at(10, 1, 10, 1, year=2025))

    new("L9", web, other_rep, at(3, 5, 9), team_=other_team)
    return Pipeline(leads=leads, web=web, partner=partner)


# The hand-computed answers for mona (manager of North), default filters.
EXPECTED = {
    "total": 7,  # L1–L7
    "reached": {
        "prospect": 3,
        "customer": 1,
        "disqualified": 2,
        "lost": 1,
        "nurture": 1,
    },  # L1 L4 L5 / L1 / L2 L3 / L5 / L4
    "open": {"lead": 2, "prospect": 1},  # L6 L7 / L4
    "contacted": 5,  # L1 L2 L4 L5 L7
    "within_sla": 2,  # L1 (3 min), L7 (10 min) ≤ 15 min
    # Response times 180, 600, 1800, 7200, 172800 s: median 1800 s; p90 at position 3.6:
    # 7200 + 0.6 × (172800 − 7200) = 106560 s.
    "response_median_min": 30.0,
    "response_p90_min": 1776.0,
    # Finished stays. lead: L3 10 min, L2 2 h, L1 2 d, L4 2 d + 2 d, L5 3 d → median 2 d.
    # prospect: L5 2 d, L1 5 d → 3.5 d. nurture: L4 4 d.
    "median_days": {"lead": 2.0, "prospect": 3.5, "nurture": 4.0},
    "buckets": {  # code: (leads, prospects, customers)
        "lt5m": (1, 1, 1),  # L1
        "lt1h": (2, 0, 0),  # L2 30 min, L7 10 min
        "lt1d": (1, 1, 0),  # L4 2 h
        "later": (1, 1, 0),  # L5 2 days
        "never": (2, 0, 0),  # L3 L6
    },
    "sources": {  # name: (leads, contacted, within sla, prospects, customers, disq, lost, nurture, median min)
        "Web": (4, 3, 2, 1, 1, 2, 0, 0, 10.0),  # L1 L2 L3 L7; median of 180, 600, 1800 s
        "Partner": (3, 2, 0, 2, 0, 0, 1, 1, 1500.0),  # L4 L5 L6; median of 7200, 172800 s
    },
    "reps": {"Rita Rep": 3, "Tom Teammate": 4},  # current owners: L5 went to Tom
    "reasons": [("No budget", 2)],
    "cooling": 3,  # L8, L7 (cold) and L4 (last touch 03-04 12:00: 12 days)
    "cold": 2,  # L8, L7
    "cooling_order": ["L8", "L7", "L4"],
}


def expected_week(week_start) -> dict[str, int]:
    """Received / moved into prospect-or-later / into customer, per Monday-started week."""
    table = {
        at(1, 19).date(): {"received": 1, "prospect": 0, "customer": 0},  # L7
        at(2, 23).date(): {"received": 1, "prospect": 0, "customer": 0},  # L1 (Sun 03-01)
        at(3, 2).date(): {
            "received": 3,
            "prospect": 1,
            "customer": 1,
        },  # L2 L3 L4; L1 → prospect, → customer (Sun 03-08)
        at(3, 9).date(): {"received": 2, "prospect": 2, "customer": 0},  # L5 L6; L4, L5 → prospect
        at(3, 16).date(): {"received": 0, "prospect": 0, "customer": 0},
    }
    return table.get(week_start, {"received": 0, "prospect": 0, "customer": 0})
