"""Page-shaped reads of leads. Each returns data already carrying what its template needs,
so pages run a fixed number of queries whatever the data size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Case, Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User

from .models import Activity, Assignment, Channel, DuplicatePolicy, Lead, StageChange

Stage = Lead.Stage

# The stage filter's values: the open stages together (the default), each stage, or all.
STAGE_FILTER_OPEN = "open"
STAGE_FILTER_ALL = "all"


# "Reached stage X" counts a lead that is or was in X, or in a later stage of the main path
# (lead → prospect → customer): a customer was a prospect even if its history skipped the step
# (imports, merges). Side exits count only themselves.
REACHED_STAGES: dict[str, tuple[str, ...]] = {
    Stage.LEAD: tuple(Stage.values),
    Stage.PROSPECT: (Stage.PROSPECT, Stage.CUSTOMER),
    Stage.CUSTOMER: (Stage.CUSTOMER,),
    Stage.NURTURE: (Stage.NURTURE,),
    Stage.DISQUALIFIED: (Stage.DISQUALIFIED,),
    Stage.LOST: (Stage.LOST,),
}


@dataclass(frozen=True)
class ResponseBucket:
    """Time from arrival to first contact, in [low, high) minutes (None: open-ended)."""

    code: str
    label: str
    low: int | None
    high: int | None


# Speed-to-lead buckets, shared by the dashboard's grouping and the lead list's filter so a
# drilled-down list holds exactly the leads behind the number.
RESPONSE_BUCKETS = (
    ResponseBucket("lt5m", "< 5 min", None, 5),
    ResponseBucket("lt1h", "5 min – 1 h", 5, 60),
    ResponseBucket("lt1d", "1 h – 1 day", 60, 24 * 60),
    ResponseBucket("later", "1 day or more", 24 * 60, None),
)
RESPONSE_NEVER = "never"
RESPONSE_CHOICES = [(b.code, b.label) for b in RESPONSE_BUCKETS] + [(RESPONSE_NEVER, "not contacted")]


def response_bucket_q(code: str, *, prefix: str = "") -> Q:
    """Leads whose first contact falls in the bucket `code` (RESPONSE_NEVER: not contacted).

    `prefix` ("lead__") applies it from a related model, e.g. StageChange.
    """
    contacted, received = f"{prefix}first_contacted_at", F(f"{prefix}received_at")
    if code == RESPONSE_NEVER:
        return Q(**{f"{contacted}__isnull": True})
    bucket = next(b for b in RESPONSE_BUCKETS if b.code == code)
    cond = Q(**{f"{contacted}__isnull": False})
    if bucket.low is not None:
        cond &= Q(**{f"{contacted}__gte": received + timedelta(minutes=bucket.low)})
    if bucket.high is not None:
        cond &= Q(**{f"{contacted}__lt": received + timedelta(minutes=bucket.high)})
    return cond


def contacted_within_q(minutes: int) -> Q:
    """Leads first contacted at most `minutes` after they arrived (the SLA share)."""
    return Q(first_contacted_at__isnull=False, first_contacted_at__lte=F("received_at") + timedelta(minutes=minutes))


def idle_q(*, days: int, now: datetime) -> Q:
    """Leads nobody has touched for at least `days` (never touched: counted from arrival)."""
    cut = now - timedelta(days=days)
    return Q(last_touched_at__lte=cut) | Q(last_touched_at__isnull=True, received_at__lte=cut)


def disqualification_reason_key():
    """The expression disqualifications are grouped by, over StageChange rows: the label of the
    reason from the admin-managed list. The dashboard's mix and the lead list's `dq_reason`
    filter both read it."""
    return F("disqualification_reason__label")


def day_start(day: date) -> datetime:
    """Midnight at the start of `day` in the current (the user's) time zone, as an aware datetime."""
    return timezone.make_aware(datetime.combine(day, time.min))


def day_end(day: date) -> datetime:
    """Midnight after `day` (exclusive bound) in the current time zone."""
    return day_start(day + timedelta(days=1))


@dataclass(frozen=True)
class LeadFilters:
    q: str = ""
    stage: str = STAGE_FILTER_OPEN
    source_id: int | None = None
    owner_id: int | None = None
    # Drill-down filters (the dashboard links here with them). Datetime bounds: [from, to).
    team_id: int | None = None
    unassigned: bool = False
    received_from: datetime | None = None
    received_to: datetime | None = None
    # Ever reached this stage (REACHED_STAGES); with changed_from/to: reached it in that range.
    reached: str = ""
    # Had a stage change (into `reached`, when given) in [changed_from, changed_to).
    changed_from: datetime | None = None
    changed_to: datetime | None = None
    contacted: bool | None = None
    contacted_within: int | None = None  # minutes
    response: str = ""  # a RESPONSE_BUCKETS code or RESPONSE_NEVER
    idle_days: int | None = None
    dq_reason: str = ""  # disqualified with this reason key (disqualification_reason_key)
    now: datetime | None = None  # "now" for idle_days; the request's time when None
    # More lead conditions, ANDed in (the dashboard's follow-up and qualification drill-downs,
    # built by dashboard.drill.drill_q).
    extra: tuple[Q, ...] = ()


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
    if filters.unassigned:
        q = q.filter(owner__isnull=True)
    if filters.team_id:
        q = q.filter(team_id=filters.team_id)
    if filters.received_from:
        q = q.filter(received_at__gte=filters.received_from)
    if filters.received_to:
        q = q.filter(received_at__lt=filters.received_to)
    if filters.reached or filters.changed_from or filters.changed_to:
        q = q.filter(stage_reached_q(filters.reached, since=filters.changed_from, until=filters.changed_to))
    if filters.contacted is not None:
        q = q.filter(first_contacted_at__isnull=not filters.contacted)
    if filters.contacted_within is not None:
        q = q.filter(contacted_within_q(filters.contacted_within))
    if filters.response:
        q = q.filter(response_bucket_q(filters.response))
    if filters.idle_days is not None:
        q = q.filter(idle_q(days=filters.idle_days, now=filters.now or timezone.now()))
    if filters.dq_reason:
        q = q.filter(disqualified_for_q(filters.dq_reason, since=filters.changed_from, until=filters.changed_to))
    for cond in filters.extra:
        q = q.filter(cond)
    return q


def _stage_changes_in(since: datetime | None, until: datetime | None) -> QuerySet[StageChange]:
    q = StageChange.objects.filter(lead=OuterRef("pk"))
    if since:
        q = q.filter(changed_at__gte=since)
    if until:
        q = q.filter(changed_at__lt=until)
    return q


def stage_reached_q(stage: str, *, since: datetime | None = None, until: datetime | None = None) -> Q:
    """Leads that reached `stage` (REACHED_STAGES; "" = any stage change), within the range if given.

    An EXISTS over the lead's history, answered from the (lead, changed_at) index.
    """
    q = _stage_changes_in(since, until)
    if stage:
        q = q.filter(to_stage__in=REACHED_STAGES[stage])
    return Q(Exists(q))


def disqualified_for_q(reason_key: str, *, since: datetime | None = None, until: datetime | None = None) -> Q:
    """Leads disqualified with this reason (disqualification_reason_key), within the range if given."""
    q = (
        _stage_changes_in(since, until)
        .filter(to_stage=Stage.DISQUALIFIED)
        .annotate(reason_key=disqualification_reason_key())
        .filter(reason_key=reason_key)
    )
    return Q(Exists(q))


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
        for sc in StageChange.objects.filter(lead=lead).select_related("changed_by", "criteria_version")
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
