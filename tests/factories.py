"""Plain factories (djangoproject.com style): make_* functions that go through the services."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import Group

from accounts import roles
from accounts.models import Membership, Team, User
from leads import services
from leads.models import Lead, LeadSource

_seq = itertools.count(1)


def make_user(username: str | None = None, *, role: str | None = roles.REP, **kw) -> User:
    n = next(_seq)
    user = User.objects.create_user(
        username=username or f"user{n}", password="pw-for-tests-only", email=f"user{n}@example.com", **kw
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def make_team(name: str | None = None, *, manager: User, members: list[User] = ()) -> Team:
    team = Team.objects.create(name=name or f"Team {next(_seq)}", manager=manager)
    for member in members:
        Membership.objects.create(team=team, user=member)
    return team


def make_source(name: str | None = None, **kw) -> LeadSource:
    return LeadSource.objects.create(name=name or f"Source {next(_seq)}", **kw)


def make_lead(
    *,
    owner: User | None,
    team: Team,
    source: LeadSource | None = None,
    by: User | None = None,
    received_at: datetime | None = None,
    **kw,
) -> Lead:
    n = next(_seq)
    kw.setdefault("name", f"Lead {n}")
    kw.setdefault("email", f"lead{n}@example.com")
    return services.lead_create(
        by=by or owner, owner=owner, team=team, source=source or make_source(), received_at=received_at, **kw
    )


# --- Qualification ------------------------------------------------------------------------------

# A small criteria set used across tests: the problem is a must, the rest scores.
BASIC_RULES = [
    {"kind": "problem_confirmed", "required": True},
    {"kind": "budget_min", "required": False, "points": 2, "min_amount": Decimal("5000"), "currency": "EUR"},
    {"kind": "decision_maker_identified", "required": False, "points": 1},
    {"kind": "timeline_within", "required": False, "points": 1, "max_days": 90},
]
BASIC_THRESHOLD = 3

# Answers that pass BASIC_RULES (and the suggested defaults).
PASSING_ANSWERS = {
    "problem": "Invoices are typed in by hand, two days a month",
    "problem_confirmed": True,
    "budget_status": "amount",
    "budget_amount": Decimal("8000"),
    "budget_currency": "EUR",
    "diy_alternative": "A temp for two days a month",
    "diy_cheaper": False,
    "decision_maker": "Dana, CFO",
    "decision_maker_spoken_to": True,
    "timeline_status": "none",
}
# Answers that fail them: the problem is not confirmed and the budget is not known.
FAILING_ANSWERS = {
    **PASSING_ANSWERS,
    "problem_confirmed": None,
    "budget_status": "unknown",
    "budget_amount": None,
    "budget_currency": "",
}


def make_criteria(*, by: User | None = None, rules: list[dict] | None = None, threshold: int | None = None):
    from qualification.services import criteria_publish

    by = by or make_user(role=roles.ADMIN)
    return criteria_publish(
        by=by,
        rules=rules if rules is not None else BASIC_RULES,
        threshold=BASIC_THRESHOLD if threshold is None else threshold,
    )


def make_call(*, lead: Lead, by: User | None = None, held_at: datetime | None = None, **answers):
    from qualification.services import call_record

    return call_record(lead=lead, by=by or lead.owner, held_at=held_at, **{**PASSING_ANSWERS, **answers})


def stage_extras(to_stage: str) -> dict:
    """What lead_change_stage needs for a move besides a reason, for tests that only want the
    lead moved: past the prospect gate by a manager's override, a listed disqualification reason."""
    from qualification.models import DisqualificationReason

    if to_stage == "prospect":
        return {"override": True}
    if to_stage == "disqualified":
        return {"disqualification_reason": DisqualificationReason.objects.get(code="no_budget")}
    return {}
