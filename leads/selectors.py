"""Page-shaped reads of leads. Each returns data already carrying what its template needs,
so pages run a fixed number of queries whatever the data size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connections
from django.db.models import BooleanField, Exists, ExpressionWrapper, Q, QuerySet

from accounts.models import User

from .models import QUEUE_ORDER, Activity, Assignment, Lead, StageChange

Stage = Lead.Stage

# The stage filter's values: the open stages together (the default), each stage, or all.
STAGE_FILTER_OPEN = "open"
STAGE_FILTER_ALL = "all"

# The filter bar counts each stage up to this many leads and shows more as "1000+". Counting
# every lead of a large scope on each page view (an admin at a million leads) is a scan of all
# of them; counting up to a cap reads at most that many index entries per stage.
COUNT_CAP = 1000
# A search reads its matches once, at most this many (their ids and stages, for the counts and
# the page). A term matching more is broad: its stage counts are shown as lower bounds ("n+"),
# and its page is read along a queue index (see lead_list_needing_attention).
SEARCH_COUNT_CAP = 10_000
# The same order for search results, written so that no queue index matches it. A search's
# matches come from the trigram indexes and are few, so sorting them is cheap; given an index
# in QUEUE_ORDER, the planner may instead walk it and test the term on every lead until a page
# is full, which for a rare term is most of the table (170 ms at a million leads).
# `first_contacted_at IS NOT NULL` sorts uncontacted (false) first, as QUEUE_ORDER's CASE does.
SEARCH_ORDER = (
    ExpressionWrapper(Q(first_contacted_at__isnull=False), output_field=BooleanField()),
    *QUEUE_ORDER[1:],
)
_STAGE_PLACEHOLDER = "\x00stage"  # never a real stage, nor anything a user can type (forms refuse NUL)


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
        cond = Q(name__icontains=term) | Q(company__icontains=term)
        if not any(c.isspace() for c in term):
            # An email has no spaces: asking its trigram index anyway costs ~15 ms at a million
            # leads for a two-word term (its common trigrams, like "COM", are in every address).
            cond |= Q(email__icontains=term)
        q = q.filter(cond)
    if filters.source_id:
        q = q.filter(source_id=filters.source_id)
    if filters.owner_id:
        q = q.filter(owner_id=filters.owner_id)
    return q


def leads_visible_for_lists(*, user: User) -> QuerySet[Lead]:
    """The leads `Lead.objects.visible_to(user)` gives, written so that an index can serve them.

    For a manager, visible_to is "owned by me OR in a team I manage": an OR across a join, which
    PostgreSQL can neither read in queue order from an index nor count from one, so a list page
    would sort all the team's leads. With the team ids known it is `team_id IN (...)`, and the
    OR is kept only when the manager owns leads outside those teams (rare: a manager who is
    also a member elsewhere). Costs one query for a manager, cached on the user object for the
    request (like Django's permission cache); none for others.
    """
    q = Lead.objects.visible_to(user)
    if not user.is_authenticated or user.has_perm("leads.view_all_leads") or not user.has_perm("leads.view_team_leads"):
        return q
    if not hasattr(user, "_lead_list_scope"):
        # The user's id as a constant, not OuterRef: the planner then sees from its statistics
        # that a manager owns few leads and reads them from an (owner_id, ...) index.
        owns_outside = Lead.objects.filter(owner_id=user.pk).exclude(team__manager_id=user.pk)
        rows = list(
            User.objects.filter(pk=user.pk)
            .annotate(owns_outside=Exists(owns_outside))
            .order_by()
            .values_list("managed_teams__id", "owns_outside")
        )
        team_ids = sorted(team_id for team_id, _ in rows if team_id is not None)
        user._lead_list_scope = (team_ids, bool(rows and rows[0][1]))
    team_ids, owns_outside = user._lead_list_scope
    if not team_ids:
        return Lead.objects.filter(owner=user)
    if owns_outside:
        return Lead.objects.filter(Q(owner=user) | Q(team_id__in=team_ids))
    return Lead.objects.filter(team_id__in=team_ids)


def lead_list_needing_attention(
    *, user: User, filters: LeadFilters, counts: StageCounts | None = None
) -> QuerySet[Lead]:
    """The work queue: what needs the user now comes first.

    Uncontacted leads first, oldest first (the speed-to-lead rule: the longer one waits, the
    colder it gets); then the rest by last touch, least recently touched first.

    Give the `counts` of the same user and filters when you have them; for a search they say
    how to read the page fastest, with the same result:
    - a few matches (at most SEARCH_COUNT_CAP): the counts hold their ids; read them by key;
    - many matches: they are dense, so reading a queue index in order and testing the term
      fills a page after about (leads in scope / SEARCH_COUNT_CAP) x 25 rows, where sorting
      every match would cost per match (an admin's "gmail": 350,000 of them).
    Without counts, a search sorts its matches (SEARCH_ORDER).
    """
    searching = bool(filters.q.strip())
    if searching and counts is not None and counts.match_ids is not None:
        stages = {STAGE_FILTER_OPEN: Lead.OPEN_STAGES, STAGE_FILTER_ALL: Stage.values}.get(
            filters.stage, [filters.stage]
        )
        ids = [pk for stage in stages for pk in counts.match_ids.get(stage, ())]
        return Lead.objects.filter(pk__in=ids).select_related("source", "owner").order_by(*SEARCH_ORDER)
    q = leads_visible_for_lists(user=user)
    q = _apply_stage(_apply_filters_but_stage(q, filters), filters.stage)
    if searching and counts is None:
        # The search in a subquery: joined directly with the sources, the planner may loop
        # over the 10 sources and repeat the trigram search for each (it underestimates GIN
        # scans: 58 ms instead of 8 at a million leads).
        return Lead.objects.filter(pk__in=q.values("pk")).select_related("source", "owner").order_by(*SEARCH_ORDER)
    return q.select_related("source", "owner").order_by(*QUEUE_ORDER)


@dataclass(frozen=True)
class StageCounts:
    """Leads per stage, plus "open" and "all"; those in `capped` have more than COUNT_CAP.

    For a search with no more than SEARCH_COUNT_CAP matches, `match_ids` holds their ids per
    stage (already within the user's scope and the other filters).
    """

    counts: dict[str, int]
    capped: frozenset[str]
    match_ids: dict[str, list[int]] | None = None

    def __getitem__(self, key: str) -> int:
        return self.counts[key]

    def is_exact(self, key: str) -> bool:
        return key not in self.capped

    def display(self, key: str) -> str:
        return f"{self.counts[key]}+" if key in self.capped else str(self.counts[key])


def lead_stage_counts(*, user: User, filters: LeadFilters) -> StageCounts:
    """Leads per stage under every filter except the stage one: the filter bar's counts.

    One query. Without a search: per stage, a count of at most COUNT_CAP + 1 rows, each read
    from an index on (scope, stage). With a search, the matches come from the trigram indexes
    whatever the stage, so they are read once and grouped by stage, up to SEARCH_COUNT_CAP
    of them; past that every count is a lower bound. Also gives "open" and "all", so the list
    needs no COUNT of its own.
    """
    q = _apply_filters_but_stage(leads_visible_for_lists(user=user), filters).order_by()
    if filters.q.strip():
        return _search_counts(q)
    # Compiled once with a stand-in stage, then repeated per stage with the real one as its
    # parameter: compiling six querysets was a tenth of the page's CPU.
    part = q.filter(stage=_STAGE_PLACEHOLDER).values("stage")[: COUNT_CAP + 1]
    inner, params = part.query.get_compiler(using=part.db).as_sql()
    sql = "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM ({inner}) AS c{i})" for i in range(len(Stage.values)))
    all_params = [stage if p == _STAGE_PLACEHOLDER else p for stage in Stage.values for p in params]
    with connections[q.db].cursor() as cursor:
        cursor.execute(sql, all_params)
        row = cursor.fetchone()
    counts = {stage: min(n, COUNT_CAP) for stage, n in zip(Stage.values, row, strict=True)}
    capped = {stage for stage, n in zip(Stage.values, row, strict=True) if n > COUNT_CAP}
    counts[STAGE_FILTER_OPEN] = sum(counts[s] for s in Lead.OPEN_STAGES)
    counts[STAGE_FILTER_ALL] = sum(counts[s] for s in Stage.values)
    if capped & set(Lead.OPEN_STAGES):
        capped.add(STAGE_FILTER_OPEN)
    if capped:
        capped.add(STAGE_FILTER_ALL)
    return StageCounts(counts=counts, capped=frozenset(capped))


def _search_counts(q: QuerySet[Lead]) -> StageCounts:
    # The matches' ids and stages, read once from the trigram indexes (no join, so the planner
    # cannot loop over a joined table and repeat the search). Counting them here also keeps
    # them for the list (see lead_list_needing_attention).
    rows = list(q.values_list("pk", "stage")[: SEARCH_COUNT_CAP + 1])
    match_ids: dict[str, list[int]] = {stage: [] for stage in Stage.values}
    for pk, stage in rows:
        match_ids[stage].append(pk)
    counts = {stage: len(ids) for stage, ids in match_ids.items()}
    counts[STAGE_FILTER_OPEN] = sum(counts[s] for s in Lead.OPEN_STAGES)
    counts[STAGE_FILTER_ALL] = len(rows)
    if len(rows) <= SEARCH_COUNT_CAP:
        return StageCounts(counts=counts, capped=frozenset(), match_ids=match_ids)
    # Too many matches to count them all: what was read are lower bounds.
    counts[STAGE_FILTER_ALL] = SEARCH_COUNT_CAP
    return StageCounts(counts=counts, capped=frozenset([*Stage.values, STAGE_FILTER_OPEN, STAGE_FILTER_ALL]))


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
