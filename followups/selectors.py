"""Page-shaped reads for follow-ups and notifications: each returns what its template needs, so
pages run a fixed number of queries whatever the data size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connections
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When

from accounts.models import User
from leadflow import precompiled
from leads.models import Lead

from .models import FollowUp, FollowUpPolicy, Notification

# How many closed follow-ups the lead page shows under the pending ones.
RECENT_CLOSED = 5

HOT, WARM, COOLING, COLD = "hot", "warm", "cooling", "cold"


def lead_temperature(*, lead: Lead, policy: FollowUpPolicy, now: datetime) -> str:
    """Hot / warm / cooling / cold, from the time since the lead last heard from us.

    A follow-up overdue by longer than the "hot" window makes the lead at least cooling (we
    promised a touch and missed it). No query: reads the lead's own fields only.
    """
    age = now - lead.waiting_since()
    if age >= timedelta(days=policy.cold_days):
        return COLD
    missed = lead.next_followup_at is not None and now - lead.next_followup_at >= timedelta(hours=policy.hot_hours)
    if missed or age >= timedelta(days=policy.cooling_days):
        return COOLING
    if age >= timedelta(hours=policy.hot_hours):
        return WARM
    return HOT


@dataclass(frozen=True)
class LeadFollowUps:
    pending: list[FollowUp]
    recent: list[FollowUp]


def _lead_followups(lead_id: int) -> QuerySet[FollowUp]:
    pending = Q(state=FollowUp.State.PENDING)
    closed = FollowUp.objects.filter(lead_id=lead_id).exclude(pending).order_by("-completed_at", "-id")
    return (
        FollowUp.objects.filter(lead_id=lead_id)
        .filter(pending | Q(pk__in=closed.values("pk")[:RECENT_CLOSED]))
        .select_related("owner", "activity", "completed_by")
        .annotate(closed=Case(When(pending, then=Value(0)), default=Value(1), output_field=IntegerField()))
        .order_by(
            # Pending: by due time; closed: the latest first (the two lists' own orders).
            "closed",
            Case(When(pending, then=F("due_at"))),
            Case(When(pending, then=F("id"))),
            F("completed_at").desc(),
            F("id").desc(),
        )
    )


def lead_followups(*, lead: Lead) -> LeadFollowUps:
    """The lead page's panel: pending follow-ups by due time, then the last few closed. One query:
    the pending ones and the RECENT_CLOSED latest closed ones (a sliced subquery), in that order;
    compiled once (leadflow.precompiled), as every view of a lead page runs it."""
    rows = precompiled.fetch("followups.lead_followups", _lead_followups, lead.pk)
    return LeadFollowUps(pending=[f for f in rows if not f.closed], recent=[f for f in rows if f.closed])


SCOPE_MINE = "mine"
SCOPE_TEAM = "team"


def followup_list_pending(*, user: User, scope: str = SCOPE_MINE) -> QuerySet[FollowUp]:
    """Pending follow-ups by due time (overdue first): the user's own, or all they may see."""
    q = FollowUp.objects.pending()
    if scope == SCOPE_TEAM:
        q = q.visible_to(user)
    else:
        q = q.filter(owner=user)
    return q.select_related("lead", "owner").order_by("due_at", "id")


def notification_unread_count(*, user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def notification_unread_count_and_policy(*, user: User) -> tuple[int, FollowUpPolicy]:
    """The bell's unread count and the follow-up policy (its defaults if never saved), in one
    query: every page shows the one, list pages need the other (temperature badges), and on
    a list page one more round trip would cost as much as the two rows.

    The policy row is LEFT JOINed to a one-row table, so the count comes back even when the
    admin has not saved a policy (FollowUpPolicy.load's fallback).
    """
    # Every page asks: compiled once (leadflow.precompiled).
    unread_sql, unread_params = precompiled.sql_with_params("followups.unread_count", _unread_count, user.pk)
    policy_sql, policy_params = precompiled.sql_with_params("followups.policy", _policy_row)
    sql = f"SELECT ({unread_sql}), p.* FROM (SELECT 1 AS one) AS x LEFT JOIN ({policy_sql}) AS p ON 1 = 1"
    with connections[FollowUpPolicy.objects.db].cursor() as cursor:
        cursor.execute(sql, [*unread_params, *policy_params])
        count, *values = cursor.fetchone()
    if values[0] is None:
        return count or 0, FollowUpPolicy(pk=FollowUpPolicy.SINGLETON_PK)
    fields = [f.attname for f in FollowUpPolicy._meta.concrete_fields]
    return count or 0, FollowUpPolicy.from_db(FollowUpPolicy.objects.db, fields, values)


def _unread_count(user_id: int) -> QuerySet:
    return (
        Notification.objects.filter(user=user_id, read_at__isnull=True)
        .order_by()
        .values("user_id")
        .annotate(n=Count("pk"))
        .values("n")
    )


def _policy_row() -> QuerySet:
    return FollowUpPolicy.objects.filter(pk=FollowUpPolicy.SINGLETON_PK).order_by()


def notification_list(*, user: User) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).order_by("-created_at", "-id")
