"""Plain factories (djangoproject.com style): make_* functions that go through the services."""

from __future__ import annotations

import itertools
from datetime import datetime

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
