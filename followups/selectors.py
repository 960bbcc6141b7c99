"""Page-shaped reads for follow-ups and notifications: each returns what its template needs, so
pages run a fixed number of queries whatever the data size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import QuerySet

from accounts.models import User
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


def lead_followups(*, lead: Lead) -> LeadFollowUps:
    """The lead page's panel: pending follow-ups by due time, then the last few closed. Two queries."""
    q = FollowUp.objects.filter(lead=lead).select_related("owner")
    pending = list(q.filter(state=FollowUp.State.PENDING).order_by("due_at", "id"))
    recent = list(
        q.exclude(state=FollowUp.State.PENDING)
        .select_related("activity", "completed_by")
        .order_by("-completed_at", "-id")[:RECENT_CLOSED]
    )
    return LeadFollowUps(pending=pending, recent=recent)


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


def notification_list(*, user: User) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).order_by("-created_at", "-id")
