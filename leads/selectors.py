"""Page-shaped reads of leads. Each returns data already carrying what its template needs,
so pages run a fixed number of queries whatever the data size."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import Any, NamedTuple

from django.db import connections
from django.db.models import (
    Aggregate,
    Case,
    CharField,
    Exists,
    F,
    IntegerField,
    JSONField,
    Lookup,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, JSONObject
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone

from accounts.models import User
from leadflow import precompiled
from leadflow.precompiled import MAX_ID
from qualification.models import CriteriaVersion

from .models import (
    ACCESS_ALL,
    ACCESS_NONE,
    QUEUE_ORDER,
    Activity,
    Assignment,
    Channel,
    DuplicatePolicy,
    Lead,
    StageChange,
    lead_access,
)

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
# What a queue row shows besides the lead: its source, owner and speed-to-lead clock (one join each).
QUEUE_RELATED = ("source", "owner", "sla")
_STAGE_PLACEHOLDER = "\x00stage"  # never a real stage, nor anything a user can type (forms refuse NUL)


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
    """Leads nobody has touched for at least `days` (never touched: counted from arrival).

    One comparison on the waiting time, COALESCE(last_touched_at, received_at): the expression
    the lead_*open_waiting_idx indexes hold, so the dashboard's going-cold panel and the lead
    list it links to read open leads by waiting time from an index."""
    return Q(LessThanOrEqual(Coalesce("last_touched_at", "received_at"), now - timedelta(days=days)))


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


def leads_visible_for_lists(*, user: User) -> QuerySet[Lead]:
    """The leads `Lead.objects.visible_to(user)` gives, written so that an index can serve them.

    For a manager, visible_to is "owned by me OR in a team I manage": an OR across a join, which
    PostgreSQL can neither read in queue order from an index nor count from one, so a list page
    would sort all the team's leads. With the team ids known it is `team_id IN (...)`, and the
    OR is kept only when the manager owns leads outside those teams (rare: a manager who is
    also a member elsewhere). Costs one query for a manager, cached on the user object for the
    request (like Django's permission cache); none for others.
    """
    scope = _list_scope(user)
    return Lead.objects.visible_to(user) if scope is None else _scope_leads(*scope)


# The kinds of list scope (_list_scope): every lead; the user's own (their id); their teams'
# (the team ids); the user's own and their teams' (their id, then the team ids).
SCOPE_ALL, SCOPE_OWN, SCOPE_TEAMS, SCOPE_OWN_AND_TEAMS = "all", "own", "teams", "own+teams"


def _list_scope(user: User) -> tuple[str, tuple[int, ...]] | None:
    """leads_visible_for_lists' scope as a kind and its ids; None: as visible_to (nobody's)."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.has_perm("leads.view_all_leads"):
        return SCOPE_ALL, ()
    if not user.has_perm("leads.view_team_leads"):
        return SCOPE_OWN, (user.pk,)
    if not hasattr(user, "_lead_list_scope"):
        rows = precompiled.fetch("leads.manager_scope", _manager_scope, user.pk)
        team_ids = sorted(team_id for team_id, _ in rows if team_id is not None)
        user._lead_list_scope = (team_ids, bool(rows and rows[0][1]))
    team_ids, owns_outside = user._lead_list_scope
    if not team_ids:
        return SCOPE_OWN, (user.pk,)
    if owns_outside:
        return SCOPE_OWN_AND_TEAMS, (user.pk, *team_ids)
    return SCOPE_TEAMS, tuple(team_ids)


def _manager_scope(user_id: int) -> QuerySet[User]:
    """(team id, owns leads outside those teams) rows of the teams a manager manages."""
    # The user's id as a constant, not OuterRef: the planner then sees from its statistics
    # that a manager owns few leads and reads them from an (owner_id, ...) index.
    owns_outside = Lead.objects.filter(owner_id=user_id).exclude(team__manager_id=user_id)
    return (
        User.objects.filter(pk=user_id)
        .annotate(owns_outside=Exists(owns_outside))
        .order_by()
        .values_list("managed_teams__id", "owns_outside")
    )


def _scope_leads(kind: str, ids: tuple[int, ...]) -> QuerySet[Lead]:
    if kind == SCOPE_ALL:
        return Lead.objects.all()
    if kind == SCOPE_OWN:
        return Lead.objects.filter(owner_id=ids[0])
    if kind == SCOPE_TEAMS:
        return Lead.objects.filter(team_id__in=ids)
    return Lead.objects.filter(Q(owner_id=ids[0]) | Q(team_id__in=ids[1:]))


def queue_order(now: datetime) -> tuple:
    """The work queue's order at `now` (see lead_list_needing_attention): a group, a key, the id."""
    uncontacted = Q(first_contacted_at__isnull=True)
    overdue = Q(next_followup_at__lte=now)
    return (
        Case(
            When(uncontacted, then=_breach_group(now)),
            When(overdue, then=Value(2)),
            default=Value(3),
            output_field=IntegerField(),
        ),
        Case(
            When(uncontacted, then=SLA_KEY),
            When(overdue, then="next_followup_at"),
            default=Coalesce("last_touched_at", "received_at"),
        ),
        "id",
    )


# An uncontacted lead's place in the queue: its speed-to-lead deadline. A lead without one (no
# clock: not created by leads.services) counts as due from the moment it came in.
SLA_KEY = Coalesce("sla_due_at", "received_at")


def _breach_group(now: datetime) -> Case:
    """0 for an uncontacted lead past its deadline (a breach), 1 before it. Monotone in SLA_KEY,
    so the uncontacted leads in (group, key, id) order are one range of the QUEUE_ORDER indexes."""
    return Case(When(LessThanOrEqual(SLA_KEY, now), then=Value(0)), default=Value(1), output_field=IntegerField())


@dataclass(frozen=True)
class ListedLeads:
    """The leads a list shows (the user's scope under the filters), as a shape and its values.

    `build(*values)` gives the (unordered) queryset. `key` names everything else the SQL
    depends on (the scope's kind and size, which filters are set, the stage), so that queries
    over these leads can be compiled once per key (leadflow.precompiled); None: a filter set
    that is not described this way (a search, the dashboard's drill-downs), built every time.
    """

    key: tuple | None
    values: tuple
    build: Callable[..., QuerySet[Lead]]

    def queryset(self) -> QuerySet[Lead]:
        return self.build(*self.values)


# The filters a ListedLeads key describes; any other set (a search, a drill-down) is built as is.
_SHAPED_FILTERS = ("source_id", "owner_id", "team_id")


def listed_leads(*, user: User, filters: LeadFilters) -> ListedLeads:
    scope = _list_scope(user)
    shaped = {name: getattr(filters, name) for name in _SHAPED_FILTERS if getattr(filters, name)}
    plain = LeadFilters(stage=filters.stage, unassigned=filters.unassigned, **shaped)
    if scope is None or filters != plain:
        q = _listed(user=user, filters=filters)
        return ListedLeads(key=None, values=(), build=lambda: q)
    kind, ids = scope
    names = tuple(shaped)
    # One stage is a value like the others; "open" and "all" are other SQL.
    one_stage = filters.stage not in (STAGE_FILTER_OPEN, STAGE_FILTER_ALL)
    if one_stage:
        names += ("stage",)
        shaped["stage"] = filters.stage

    def build(*values) -> QuerySet[Lead]:
        n = len(values) - len(names)
        given = LeadFilters(
            **{"stage": filters.stage, "unassigned": filters.unassigned, **dict(zip(names, values[n:], strict=True))}
        )
        return _apply_stage(_apply_filters_but_stage(_scope_leads(kind, values[:n]), given), given.stage)

    key = (kind, len(ids), names, filters.stage if not one_stage else "", filters.unassigned)
    return ListedLeads(key=key, values=(*ids, *shaped.values()), build=build)


class QueueRow:
    """A lead as the work queue's table (leads_extras.queue_rows) and the API's list
    (api.serializers._LeadListSerializer) show it: its own columns, its source's name, its
    owner and its speed-to-lead deadline, with Lead's own is_open and waiting_since. Read from
    the queue's query as tuples (precompiled.fetch_columns): making a page of Lead instances
    with their source, owner and clock cost twice the CPU of reading the rows."""

    FIELDS = (
        "id",
        "name",
        "company",
        "title",
        "stage",
        "email",
        "phone",
        "source_id",
        "owner_id",
        "received_at",
        "first_contacted_at",
        "last_touched_at",
        "next_followup_at",
        "team_id",
        "possible_duplicate_of_id",
    )
    __slots__ = (*FIELDS, "source", "owner", "sla")
    # What the query reads for them (QuerySet.only, with QUEUE_RELATED): the lead's columns
    # above and, of its related rows, what the row shows. All of each joined row, the owner's
    # password hash among them, doubled the columns the driver converts on every page.
    ONLY = (
        *(name.removesuffix("_id") for name in FIELDS),
        "source__name",
        *(f"owner__{name}" for name in User.NAME_FIELDS),
        "sla__owner_due_at",
    )
    OPEN_STAGES = Lead.OPEN_STAGES
    is_open = Lead.is_open
    waiting_since = Lead.waiting_since

    @property
    def pk(self) -> int:
        return self.id


class _Named(NamedTuple):  # a QueueRow's source: its name
    name: str


class _Clock(NamedTuple):  # a QueueRow's speed-to-lead clock: its deadline
    owner_due_at: datetime


def queue_rows_read(rows: list[tuple], columns: dict[tuple, int]) -> list[QueueRow]:
    """QueueRows from a QUEUE_RELATED query's tuples and columns (precompiled.fetch_columns)."""
    own = [(name, columns["", name]) for name in QueueRow.FIELDS]
    source_name = columns["source", "name"]
    owner_cols = [(f, columns["owner", f]) for f in ("id", "username", "first_name", "last_name")]
    clock_id, clock_due = columns["sla", "id"], columns["sla", "owner_due_at"]
    owners: dict[int, User] = {}  # a page has few owners: one User each, for its __str__
    out = []
    for t in rows:
        row = QueueRow()
        for name, i in own:
            setattr(row, name, t[i])
        row.source = None if row.source_id is None else _Named(t[source_name])
        owner_id = row.owner_id
        if owner_id is not None and owner_id not in owners:
            owners[owner_id] = User(**{f: t[i] for f, i in owner_cols})
        row.owner = owners.get(owner_id)
        row.sla = None if t[clock_id] is None else _Clock(t[clock_due])
        out.append(row)
    return out


def _read_page(key, build: Callable[..., QuerySet[Lead]], *values, plain: bool) -> list:
    """A page of leads: Lead instances, or QueueRows when `plain` (the queue's HTML)."""
    if plain:
        return queue_rows_read(*precompiled.fetch_columns(key, build, *values))
    return precompiled.fetch(key, build, *values)


class LeadQueue:
    """The work queue of a large scope, read a page at a time along indexes (PostgreSQL).

    The order (queue_order) depends on "now" (a breach, an overdue follow-up), so no index can
    hold it and one ORDER BY over it sorts every lead in scope (an admin's million). It is the
    concatenation of three segments, though, each readable in order from an index:
    1. uncontacted leads (groups 0 and 1: breaches, then the rest, by SLA deadline): one range
       of the QUEUE_ORDER indexes, whose key for them is the deadline (Lead.sla_due_at);
    2. contacted leads with an overdue follow-up, by next_followup_at (the *_next_followup_idx
       partial indexes);
    3. the other contacted leads, by last touch: the rest of the QUEUE_ORDER index.
    A slice [a:b] is one query: `(segment 1 LIMIT b) UNION ALL (2 LIMIT b) UNION ALL (3 LIMIT b)
    ORDER BY group, key, id OFFSET a LIMIT b - a`, so a page reads at most 3 x b rows. The
    result equals `base.order_by(*queue_order(now))` (tests check both on PostgreSQL).

    Building and compiling that UNION cost more CPU than the database took to run it, so a page
    of a list with a key (ListedLeads) is compiled once per key and slice (leadflow.precompiled).
    """

    ordered = True  # for Paginator

    def __init__(
        self, listed: ListedLeads, *, now: datetime, related: tuple[str, ...] = QUEUE_RELATED, plain: bool = False
    ):
        self.listed = listed
        self.now = now
        self.related = related
        self.plain = plain  # pages of QueueRows, not Lead instances (see lead_list_needing_attention)

    @cached_property
    def base(self) -> QuerySet[Lead]:
        q = self.listed.queryset().select_related(*self.related).order_by()
        return q.only(*QueueRow.ONLY) if self.plain else q

    def _segments(self) -> list[QuerySet[Lead]]:
        now, contacted = self.now, QUEUE_ORDER[0]
        first = (
            self.base.alias(contacted=contacted)
            .filter(contacted=0)
            .annotate(grp=_breach_group(now), skey=SLA_KEY)
            .order_by(*QUEUE_ORDER)
        )
        rest = self.base.alias(contacted=contacted).filter(contacted=1)
        overdue = (
            # Said again plainly, so the planner sees the partial index's condition is implied.
            rest.filter(first_contacted_at__isnull=False, next_followup_at__lte=now)
            .annotate(grp=Value(2, output_field=IntegerField()), skey=F("next_followup_at"))
            .order_by("next_followup_at", "id")
        )
        others = (
            rest.filter(Q(next_followup_at__isnull=True) | Q(next_followup_at__gt=now))
            .annotate(grp=Value(3, output_field=IntegerField()), skey=QUEUE_ORDER[1])
            .order_by(*QUEUE_ORDER)
        )
        return [first, overdue, others]

    def _query(self, start: int, stop: int | None) -> QuerySet[Lead]:
        first, *more = [q[:stop] if stop is not None else q for q in self._segments()]
        return first.union(*more, all=True).order_by("grp", "skey", "id")[start:stop]

    def __getitem__(self, key: slice) -> list[Lead]:
        if not isinstance(key, slice) or key.step is not None or (key.start or 0) < 0:
            raise TypeError("LeadQueue takes a slice [start:stop]")
        start, stop = key.start or 0, key.stop
        if stop is not None and stop <= start:
            return []
        if stop is None:
            return _read_page(None, lambda: self._query(start, stop), plain=self.plain)
        listed, related, plain = self.listed, self.related, self.plain

        def page(*values) -> QuerySet[Lead]:
            *listed_values, now = values
            queue = LeadQueue(replace(listed, values=tuple(listed_values)), now=now, related=related, plain=plain)
            return queue._query(start, stop)

        shape = None if listed.key is None else ("LeadQueue", listed.key, related, plain, start, stop)
        return _read_page(shape, page, *listed.values, self.now, plain=self.plain)

    def __iter__(self):
        return iter(self[0:None])

    def select_related(self, *fields: str) -> LeadQueue:
        return LeadQueue(self.listed, now=self.now, related=(*self.related, *fields), plain=self.plain)

    def count(self) -> int:
        """For a Paginator that counts (the API's): the leads in scope, whatever their order."""
        listed = self.listed
        shape = None if listed.key is None else ("LeadQueue.count", listed.key)
        sql, params = precompiled.sql_with_params(
            shape, lambda *values: listed.build(*values).values("pk"), *listed.values
        )
        with connections[Lead.objects.db].cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM ({sql}) AS listed", params)
            return cursor.fetchone()[0]


class _AnyOf(Lookup):
    """`lhs = ANY(%s)`, the list one array parameter (PostgreSQL)."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", (*lhs_params, *rhs_params)


class LeadsById:
    """Leads given by id (a search's matches), in queue order, read a page at a time (PostgreSQL).

    A few hundred ids as `id IN (%s, %s, ...)` took Django ~3 ms of CPU to compile; as one array
    parameter (`id = ANY(%s)`) the statement is the same whatever the ids, so it is compiled
    once per page slice (leadflow.precompiled). The planner sees the same constants either way.
    """

    ordered = True  # for Paginator

    def __init__(self, ids: list[int], *, now: datetime, plain: bool = False):
        self.ids = ids
        self.now = now
        self.plain = plain  # pages of QueueRows, not Lead instances (see lead_list_needing_attention)

    @staticmethod
    def _queryset(ids: list[int], now: datetime, *, plain: bool) -> QuerySet[Lead]:
        q = Lead.objects.filter(_AnyOf(F("pk"), ids)).select_related(*QUEUE_RELATED).order_by(*queue_order(now))
        return q.only(*QueueRow.ONLY) if plain else q

    def __getitem__(self, key: slice) -> list[Lead]:
        if not isinstance(key, slice) or key.step is not None or (key.start or 0) < 0 or key.stop is None:
            raise TypeError("LeadsById takes a slice [start:stop]")
        start, stop = key.start or 0, key.stop
        if stop <= start:
            return []

        def page(ids: list[int], now: datetime) -> QuerySet[Lead]:
            return self._queryset(ids, now, plain=self.plain)[start:stop]

        return _read_page(("LeadsById", self.plain, start, stop), page, self.ids, self.now, plain=self.plain)

    def __iter__(self):
        return iter(self._queryset(self.ids, self.now, plain=False))

    def count(self) -> int:
        return len(self.ids)


def lead_list_filtered(*, user: User, filters: LeadFilters) -> QuerySet[Lead]:
    """The leads of the list under its filters, in a stable order (id): for an export, which
    streams every row, so the queue's "what needs you now" order (LeadQueue) is no use there."""
    return _listed(user=user, filters=filters).select_related("source", "owner", "team").order_by("id")


def _listed(*, user: User, filters: LeadFilters) -> QuerySet[Lead]:
    """The leads a list shows: the user's scope under every filter (unordered)."""
    return _apply_stage(_apply_filters_but_stage(leads_visible_for_lists(user=user), filters), filters.stage)


def lead_list_needing_attention(
    *,
    user: User,
    filters: LeadFilters,
    counts: StageCounts | None = None,
    now: datetime | None = None,
    plain: bool = False,
) -> QuerySet[Lead] | LeadQueue | LeadsById:
    """The work queue: what needs the user now comes first.

    1. Speed-to-lead breaches: uncontacted past their SLA deadline, the longest-late first.
    2. Other uncontacted leads, the nearest SLA deadline first (the speed-to-lead rule: the longer
       one waits, the colder it gets).
    3. Overdue follow-ups, the most overdue first.
    4. The rest by last touch, least recently touched first.
    One query per page: the SLA clock is joined (select_related), the next follow-up is a column
    of the lead. On PostgreSQL the page is read along indexes (LeadQueue); elsewhere (SQLite,
    small data) it is one sorted query.

    Give the `counts` of the same user and filters when you have them; for a search they say
    how to read the page fastest, with the same result:
    - a few matches (at most SEARCH_COUNT_CAP): the counts hold their ids; read them by key
      and sort them;
    - many matches: they are dense, so reading the queue's indexes in order and testing the
      term fills a page quickly, where sorting every match would cost per match (an admin's
      "gmail": 350,000 of them).
    Without counts, a search sorts its matches.

    `plain`: the pages read along indexes (LeadQueue, LeadsById) hold QueueRows, which have
    what the queue's HTML shows and cost less to make; the other ways give Lead instances,
    which have it too.
    """
    now = now or timezone.now()
    searching = bool(filters.q.strip())
    order = queue_order(now)
    if searching and counts is not None and counts.match_ids is not None:
        stages = {STAGE_FILTER_OPEN: Lead.OPEN_STAGES, STAGE_FILTER_ALL: Stage.values}.get(
            filters.stage, [filters.stage]
        )
        ids = [pk for stage in stages for pk in counts.match_ids.get(stage, ())]
        if connections[Lead.objects.db].vendor != "postgresql":
            return Lead.objects.filter(pk__in=ids).select_related(*QUEUE_RELATED).order_by(*order)
        return LeadsById(ids, now=now, plain=plain)
    listed = listed_leads(user=user, filters=filters)
    if searching and counts is None:
        # The search in a subquery: joined directly with the sources, the planner may loop
        # over the 10 sources and repeat the trigram search for each (it underestimates GIN
        # scans: 58 ms instead of 8 at a million leads).
        q = listed.queryset().values("pk")
        return Lead.objects.filter(pk__in=q).select_related(*QUEUE_RELATED).order_by(*order)
    if connections[Lead.objects.db].features.supports_slicing_ordering_in_compound:
        return LeadQueue(listed, now=now, plain=plain)
    return listed.queryset().select_related(*QUEUE_RELATED).order_by(*order)


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
    if filters.q.strip():
        return _search_counts(_apply_filters_but_stage(leads_visible_for_lists(user=user), filters).order_by())
    # Compiled once with a stand-in stage, then repeated per stage with the real one as its
    # parameter: compiling six querysets was a tenth of the page's CPU. And that once is once
    # per shape of the list (leadflow.precompiled), not per page view.
    listed = listed_leads(user=user, filters=replace(filters, stage=STAGE_FILTER_ALL))

    def part(*values) -> QuerySet[Lead]:
        *listed_values, stage = values
        q = listed.build(*listed_values).order_by()
        return q.filter(stage=stage).values("stage")[: COUNT_CAP + 1]

    shape = None if listed.key is None else ("lead_stage_counts", listed.key)
    inner, params = precompiled.sql_with_params(shape, part, *listed.values, _STAGE_PLACEHOLDER)
    sql = "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM ({inner}) AS c{i})" for i in range(len(Stage.values)))
    all_params = [stage if p == _STAGE_PLACEHOLDER else p for stage in Stage.values for p in params]
    with connections[Lead.objects.db].cursor() as cursor:
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


# The history's one row shape (see lead_timeline): what each kind puts in the shared columns.
_NULL = Value(None, output_field=CharField())
# A typed NULL where another branch has an integer (PostgreSQL reads two untyped NULLs as text).
_NULL_ID = Cast(Value(None), IntegerField())
_USER_FIELDS = ("id", "username", "first_name", "last_name")


def _user_columns(slot: str, path: str | None) -> dict[str, Any]:
    if path is None:
        return {f"{slot}_{f}": _NULL_ID if f == "id" else _NULL for f in _USER_FIELDS}
    return {f"{slot}_{f}": F(f"{path}__{f}") for f in _USER_FIELDS}


def _history_rows(q: QuerySet, kind: str, *, at: str, users: tuple[str | None, ...], **columns: Any) -> QuerySet:
    cols = {
        "t_kind": Value(kind),
        "t_id": F("pk"),
        "t_at": F(at),
        "t_a": Value(""),
        "t_b": Value(""),
        "t_text": Value(""),
        "t_flag": Value(False),
        "t_number": _NULL,
        "t_evaluation": _NULL,
        **columns,
    }
    for slot, path in zip(("u1", "u2", "u3"), users, strict=True):
        cols.update(_user_columns(slot, path))
    # Model orderings are dropped: a branch of a UNION may not be ordered (SQLite).
    return q.order_by().annotate(**cols).values(*cols)


def _user(row: dict, slot: str) -> User | None:
    if row[f"{slot}_id"] is None:
        return None
    return User(**{f: row[f"{slot}_{f}"] for f in _USER_FIELDS})


def _history_item(row: dict) -> StageChange | Activity | Assignment:
    """The model row the template reads, rebuilt from the shared columns (no further query)."""
    kind = row["t_kind"]
    if kind == "stage":
        sc = StageChange(
            id=row["t_id"],
            changed_at=row["t_at"],
            from_stage=row["t_a"],
            to_stage=row["t_b"],
            reason=row["t_text"],
            is_override=row["t_flag"],
            evaluation=row["t_evaluation"],
            changed_by=_user(row, "u1"),
        )
        if row["t_number"] is not None:
            sc.criteria_version = CriteriaVersion(number=row["t_number"])
        return sc
    if kind == "activity":
        return Activity(
            id=row["t_id"], occurred_at=row["t_at"], kind=row["t_a"], outcome=row["t_text"], created_by=_user(row, "u1")
        )
    return Assignment(
        id=row["t_id"],
        assigned_at=row["t_at"],
        reason=row["t_text"],
        assigned_by=_user(row, "u1"),
        to_owner=_user(row, "u2"),
        from_owner=_user(row, "u3"),
    )


class JSONArrayAgg(Aggregate):
    """The rows of a group as one JSON array (of JSONObject values, say): PostgreSQL's jsonb_agg,
    SQLite's json_group_array. Lets a one-row query carry a short list of related rows."""

    function = "JSONB_AGG"
    output_field = JSONField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, function="JSON_GROUP_ARRAY", **extra_context)


def lead_referrals_column() -> Subquery:
    """The leads this lead referred, as a JSON list of {id, name, stage} (None if none), for the
    lead page's query to carry instead of a query of its own; lead_referrals reads it."""
    referred = Lead.objects.filter(referred_by_lead=OuterRef("pk")).order_by().values("referred_by_lead")
    return Subquery(
        referred.annotate(rows=JSONArrayAgg(JSONObject(id="id", name="name", stage="stage"))).values("rows")
    )


def lead_referrals(rows: list[dict] | None) -> list[Lead]:
    """The referred leads from lead_referrals_column's list, by name (what the page shows of them)."""
    leads = [Lead(id=r["id"], name=r["name"], stage=r["stage"]) for r in rows or []]
    return sorted(leads, key=lambda lead: (lead.name, lead.pk))


def lead_visible(
    *, key: str, user: User, pk: int, related: tuple[str, ...], columns: Callable[[], dict[str, Any]]
) -> Lead | None:
    """Lead `pk` if `user` may see it (LeadQuerySet.visible_to), with the `related` objects and
    the annotations `columns()` builds; None otherwise. One query, compiled once per `key` (the
    page asking: related and columns are its own) and kind of access (leadflow.precompiled):
    for the lead's pages, whose largest query it is."""
    access = lead_access(user)
    if not 0 < pk <= MAX_ID or access == ACCESS_NONE:
        return None

    def build(*values) -> QuerySet[Lead]:
        # (user id, lead id); everyone's leads (ACCESS_ALL): the user is not in the SQL.
        user_id = values[0] if len(values) == 2 else None
        return (
            Lead.objects.visible_with(access, user_id)
            .select_related(*related)
            .annotate(**columns())
            .filter(pk=values[-1])
        )

    values = (pk,) if access == ACCESS_ALL else (user.pk, pk)
    rows = precompiled.fetch(("leads.lead_visible", key, access), build, *values)
    return rows[0] if rows else None


def _timeline_rows(lead_id: int) -> QuerySet:
    """The three tables' rows of a lead shaped alike, read with UNION ALL (each through its
    (lead, time) index)."""
    stages = _history_rows(
        StageChange.objects.filter(lead_id=lead_id),
        "stage",
        at="changed_at",
        users=("changed_by", None, None),
        t_a=F("from_stage"),
        t_b=F("to_stage"),
        t_text=F("reason"),
        t_flag=F("is_override"),
        t_number=F("criteria_version__number"),
        t_evaluation=F("evaluation"),
    )
    activities = _history_rows(
        Activity.objects.filter(lead_id=lead_id),
        "activity",
        at="occurred_at",
        users=("created_by", None, None),
        t_a=F("kind"),
        t_text=F("outcome"),
    )
    assignments = _history_rows(
        Assignment.objects.filter(lead_id=lead_id),
        "assignment",
        at="assigned_at",
        users=("assigned_by", "to_owner", "from_owner"),
        t_text=F("reason"),
    )
    # The stage changes come first: their columns set the types Django reads the rows with.
    return stages.union(activities, assignments, all=True)


def lead_timeline(*, lead: Lead) -> list[TimelineEntry]:
    """Stage changes, activities and assignments of a lead, newest first. One query (_timeline_rows),
    compiled once (leadflow.precompiled): every view of a lead page runs it."""
    rows = precompiled.fetch("leads.timeline", _timeline_rows, lead.pk)
    entries = [TimelineEntry(row["t_at"], row["t_kind"], _history_item(row)) for row in rows]
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
    match. Returned with the owner and team (and its manager) for the notification.

    One query for the usual answer at intake (no match), which reads only the key: building
    the joined select was the single most expensive statement of a web-form post. A match
    costs a second query, by primary key.
    """
    cond = _contact_match(emails=[email] if email else [], phones=[phone] if phone else [])
    if not cond:
        return None
    pk = (
        Lead.objects.filter(cond, merged_into__isnull=True)
        .order_by(_open_first(), "-received_at", "-id")
        .values_list("pk", flat=True)
        .first()
    )
    if pk is None:
        return None
    return Lead.objects.select_related("owner", "team__manager", "source").get(pk=pk)


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
