"""Page-shaped reads of leads. Each returns data already carrying what its template needs,
so pages run a fixed number of queries whatever the data size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce

from accounts.models import User

from .models import Activity, Assignment, Channel, DuplicatePolicy, Lead, StageChange

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
    # A merged-away lead lives on only as a redirect to its survivor: no list shows it.
    q = q.filter(merged_into__isnull=True)
    if filters.q:
        term = filters.q.strip()
        q = q.filter(Q(name__icontains=term) | Q(email__icontains=term) | Q(company__icontains=term))
    if filters.source_id:
        q = q.filter(source_id=filters.source_id)
    if filters.owner_id:
        q = q.filter(owner_id=filters.owner_id)
    return q


def lead_list_needing_attention(*, user: User, filters: LeadFilters) -> QuerySet[Lead]:
    """The work queue: what needs the user now comes first.

    Uncontacted leads first, oldest first (the speed-to-lead rule: the longer one waits, the
    colder it gets); then the rest by last touch, least recently touched first.
    """
    q = Lead.objects.visible_to(user)
    q = _apply_stage(_apply_filters_but_stage(q, filters), filters.stage)
    return q.select_related("source", "owner").order_by(
        Case(When(first_contacted_at__isnull=True, then=Value(0)), default=Value(1), output_field=IntegerField()),
        Coalesce("last_touched_at", "received_at"),
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
    cond = _contact_match(emails=[email] if email else [], phones=[phone] if phone else [])
    if not cond:
        return []
    q = Lead.objects.filter(cond, merged_into__isnull=True).select_related("owner").order_by("-received_at")
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


def _open_first() -> Case:
    return Case(When(stage__in=Lead.OPEN_STAGES, then=Value(0)), default=Value(1), output_field=IntegerField())


def _contact_match(*, emails, phones) -> Q:
    """Leads with one of these (normalised) emails or phones, written so the partial indexes
    lead_email_idx/lead_phone_idx are used: SQLite (and PostgreSQL for long IN lists) only use a
    partial index when the query repeats its condition (email <> '') word for word."""
    cond = Q()
    if emails:
        cond |= Q(email__in=list(emails)) & ~Q(email="")
    if phones:
        cond |= Q(phone__in=list(phones)) & ~Q(phone="")
    return cond


def lead_find_match(*, email: str, phone: str) -> Lead | None:
    """The live lead a new one with this (normalised) email or phone duplicates, or None.

    Open leads first (someone is working them), then the most recent; merged-away leads never
    match. One query, with the owner and team (and its manager) for the notification.
    """
    cond = _contact_match(emails=[email] if email else [], phones=[phone] if phone else [])
    if not cond:
        return None
    return (
        Lead.objects.filter(cond, merged_into__isnull=True)
        .select_related("owner", "team__manager", "source")
        .order_by(_open_first(), "-received_at", "-id")
        .first()
    )


def lead_find_matches(*, emails: set[str], phones: set[str]) -> dict[str, Lead]:
    """lead_find_match for a whole batch: {email or phone: the lead it matches}. One query
    (per 500 values, to stay under the databases' parameter limits)."""
    found: dict[str, Lead] = {}
    values = [("email", v) for v in sorted(emails)] + [("phone", v) for v in sorted(phones)]
    for start in range(0, len(values), 500):
        chunk = values[start : start + 500]
        chunk_emails = {v for f, v in chunk if f == "email"}
        chunk_phones = {v for f, v in chunk if f == "phone"}
        q = (
            Lead.objects.filter(_contact_match(emails=chunk_emails, phones=chunk_phones), merged_into__isnull=True)
            .select_related("owner", "team__manager")
            .order_by(_open_first(), "-received_at", "-id")
        )
        for lead in q:
            # Best match first, so keep the first lead seen for each value.
            if lead.email in chunk_emails:
                found.setdefault(lead.email, lead)
            if lead.phone in chunk_phones:
                found.setdefault(lead.phone, lead)
    return found


def duplicate_action(channel: str) -> str:
    """The admin's duplicate policy for a channel (DuplicatePolicy.Action). One query."""
    action = DuplicatePolicy.objects.filter(channel=channel).values_list("action", flat=True).first()
    return action or DuplicatePolicy.DEFAULT_ACTIONS[Channel(channel)]


def lead_merge_candidates(*, lead: Lead, user: User) -> list[Lead]:
    """Leads the user can see that look like the same person: flagged either way, or same
    normalised email or phone. One query."""
    cond = Q(possible_duplicate_of=lead) | Q(possible_duplicates=lead)
    if lead.email:
        cond |= Q(email=lead.email)
    if lead.phone:
        cond |= Q(phone=lead.phone)
    if lead.possible_duplicate_of_id:
        cond |= Q(pk=lead.possible_duplicate_of_id)
    q = (
        Lead.objects.visible_to(user)
        .filter(cond, merged_into__isnull=True)
        .exclude(pk=lead.pk)
        .select_related("owner", "source")
        .distinct()
        .order_by("-received_at", "-id")
    )
    return list(q[:20])


def lead_related_counts(*, lead: Lead) -> list[str]:
    """“3 activities”, “1 stage change”…: the rows of each reverse relation pointing at the lead, what a merge moves.
    One COUNT per relation, whatever the data size."""
    from .services import lead_merge_relations, relation_title

    counts = []
    for rel in lead_merge_relations():
        model = rel.related_model
        if rel.many_to_many:
            n = getattr(lead, rel.get_accessor_name()).count()
        else:
            n = model._base_manager.filter(**{rel.field.name: lead}).count()
        if n:
            counts.append(relation_title(rel, n))
    return counts
