"""Page-shaped reads of leads. Each returns data already carrying what its template needs,
so pages run a fixed number of queries whatever the data size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User

from .models import Activity, Assignment, Lead, StageChange

Stage = Lead.Stage

# The stage filter's values: the open stages together (the default), each stage, or all.
STAGE_FILTER_OPEN = "open"
STAGE_FILTER_ALL = "all"


@dataclass(frozen=True)
class LeadFilters:
    q: str = ""
    stage: str = STAGE_FILTER_OPEN
    source_id: int | None = None
    owner_id: int | None = None


def _apply_stage(q: QuerySet[Lead], stage: str) -> QuerySet[Lead]:
    if stage == STAGE_FILTER_OPEN:
        return q.filter(stage__in=Lead.OPEN_STAGES)
    if stage == STAGE_FILTER_ALL:
        return q
    return q.filter(stage=stage)


def _apply_filters_but_stage(q: QuerySet[Lead], filters: LeadFilters) -> QuerySet[Lead]:
    if filters.q:
        term = filters.q.strip()
        q = q.filter(Q(name__icontains=term) | Q(email__icontains=term) | Q(company__icontains=term))
    if filters.source_id:
        q = q.filter(source_id=filters.source_id)
    if filters.owner_id:
        q = q.filter(owner_id=filters.owner_id)
    return q


def lead_list_needing_attention(*, user: User, filters: LeadFilters, now: datetime | None = None) -> QuerySet[Lead]:
    """The work queue: what needs the user now comes first.

    1. Speed-to-lead breaches: uncontacted past their SLA deadline, the longest-late first.
    2. Other uncontacted leads, the nearest SLA deadline first (the speed-to-lead rule: the longer
       one waits, the colder it gets).
    3. Overdue follow-ups, the most overdue first.
    4. The rest by last touch, least recently touched first.
    One query: the SLA clock is joined (select_related), the next follow-up is a column of the lead.
    """
    now = now or timezone.now()
    q = Lead.objects.visible_to(user)
    q = _apply_stage(_apply_filters_but_stage(q, filters), filters.stage)
    uncontacted = Q(first_contacted_at__isnull=True)
    breached = uncontacted & Q(sla__owner_due_at__lte=now)
    overdue = Q(next_followup_at__lte=now)
    return q.select_related("source", "owner", "sla").order_by(
        Case(
            When(breached, then=Value(0)),
            When(uncontacted, then=Value(1)),
            When(overdue, then=Value(2)),
            default=Value(3),
            output_field=IntegerField(),
        ),
        Case(
            When(uncontacted, then=Coalesce("sla__owner_due_at", "received_at")),
            When(overdue, then="next_followup_at"),
            default=Coalesce("last_touched_at", "received_at"),
        ),
        "id",
    )


def lead_stage_counts(*, user: User, filters: LeadFilters) -> dict[str, int]:
    """Leads per stage under every filter except the stage one: the filter bar's counts.

    One GROUP BY query. Also gives "open" and "all", so the list needs no COUNT of its own.
    """
    q = _apply_filters_but_stage(Lead.objects.visible_to(user), filters)
    rows = q.order_by().values("stage").annotate(n=Count("id"))
    counts = {stage: 0 for stage in Stage.values}
    for row in rows:
        counts[row["stage"]] = row["n"]
    counts[STAGE_FILTER_OPEN] = sum(counts[s] for s in Lead.OPEN_STAGES)
    counts[STAGE_FILTER_ALL] = sum(counts[s] for s in Stage.values)
    return counts


def lead_find_duplicates(*, email: str, phone: str, exclude_pk: int | None = None) -> list[Lead]:
    """Leads with the same normalised email or phone (values must already be normalised)."""
    cond = Q()
    if email:
        cond |= Q(email=email)
    if phone:
        cond |= Q(phone=phone)
    if not cond:
        return []
    q = Lead.objects.filter(cond).select_related("owner").order_by("-received_at")
    if exclude_pk:
        q = q.exclude(pk=exclude_pk)
    return list(q[:10])


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # "stage", "activity" or "assignment"
    item: Any


def lead_timeline(*, lead: Lead) -> list[TimelineEntry]:
    """Stage changes, activities and assignments of a lead, newest first. Three queries."""
    entries = [
        TimelineEntry(sc.changed_at, "stage", sc)
        for sc in StageChange.objects.filter(lead=lead).select_related("changed_by")
    ]
    entries += [
        TimelineEntry(a.occurred_at, "activity", a)
        for a in Activity.objects.filter(lead=lead).select_related("created_by")
    ]
    entries += [
        TimelineEntry(a.assigned_at, "assignment", a)
        for a in Assignment.objects.filter(lead=lead).select_related("from_owner", "to_owner", "assigned_by")
    ]
    # Newest first; on equal times the stage change (e.g. creation) sorts below what followed it.
    order = {"stage": 0, "assignment": 1, "activity": 2}
    entries.sort(key=lambda e: (e.at, order[e.kind]), reverse=True)
    return entries


def team_members_for_lead(*, lead: Lead) -> QuerySet[User]:
    """People who may own this lead: its team's members and manager."""
    return User.objects.filter(
        Q(memberships__team_id=lead.team_id) | Q(managed_teams__id=lead.team_id), is_active=True
    ).distinct()
