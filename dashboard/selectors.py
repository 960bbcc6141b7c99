"""The manager's pipeline dashboard: every figure is aggregated in the database, in a fixed
number of queries whatever the data size, and every count carries the URL of the lead list
that shows exactly the leads behind it (the lead list applies the same filters, built from
the same `leads.selectors` conditions).

Definitions (the closing note and the page's help text say the same):
- The **date range** picks the leads: "received" = leads that arrived in it (a cohort, followed
  to today); "changed" = leads with a stage change in it, and a stage counts as reached only
  when the move into it happened in the range (pipeline activity in the period).
- **Reached** a stage = moved into it, or into a later stage of the main path (a customer was a
  prospect even if its history skipped the step). Side exits (disqualified, lost, nurture) count
  every lead that ever went there, including nurture leads that came back.
- The **rep** is the lead's current owner (after reassignments), so a rep's figures and the
  lead list filtered by owner show the same leads.
- **Speed-to-lead** is `first_contacted_at − received_at`; the SLA share is over all leads of
  the set (a lead never contacted has missed it).
- **Time in stage** is measured over finished stays (a move in and the next move out); a lead
  that went lead → nurture → lead has two stays in "lead".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import Case, Count, F, Q, QuerySet, Value, When, Window
from django.db.models.functions import Coalesce, TruncWeek
from django.db.models.functions import Lead as NextValue
from django.urls import reverse
from django.utils import timezone

from accounts.models import Team, User
from followups.models import FollowUp
from leads.models import Lead, LeadSource, StageChange
from leads.selectors import (
    REACHED_STAGES,
    RESPONSE_BUCKETS,
    RESPONSE_NEVER,
    STAGE_FILTER_ALL,
    STAGE_FILTER_OPEN,
    contacted_within_q,
    day_end,
    day_start,
    disqualification_reason_key,
    idle_q,
    response_bucket_q,
    stage_reached_q,
)
from qualification.models import CriteriaRule, DiscoveryCall, HelpfulClose

from . import drill
from .db import Percentile, Seconds
from .drill import DrillWindow

Stage = Lead.Stage

DATE_RECEIVED = "received"
DATE_CHANGED = "changed"
DEFAULT_DAYS = 90
MAIN_PATH = (Stage.LEAD, Stage.PROSPECT, Stage.CUSTOMER)
SIDE_EXITS = (Stage.DISQUALIFIED, Stage.LOST, Stage.NURTURE)
# Stages a lead stays in for a while (customer, disqualified and lost are outcomes).
TIMED_STAGES = (Stage.LEAD, Stage.PROSPECT, Stage.NURTURE)
COLD_LIST_SIZE = 50
OVERRIDE_LIST_SIZE = 20  # on the page; the CSV lists up to OVERRIDE_CSV_SIZE
OVERRIDE_CSV_SIZE = 10_000
TOP_REASONS = 5
Z_95 = 1.959963984540054


# --- Policy knobs: one function each, so the owning branches can swap them -----------------------


def dashboard_policy_knobs() -> tuple[int, int, int, int]:
    """(SLA minutes, cooling days, cold days, escalation hours) from the admin's follow-up
    policy. One query."""
    from followups.models import FollowUpPolicy

    policy = FollowUpPolicy.load()
    return policy.sla_minutes, policy.cooling_days, policy.cold_days, policy.escalation_hours


def _min_sample() -> int:
    """Below this many leads a conversion rate is shown but marked "too few to judge"."""
    return 30


def _reason_key():
    """What disqualifications are grouped by (see leads.selectors.disqualification_reason_key)."""
    return disqualification_reason_key()


# --- Filters and scope -------------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardFilters:
    date_from: date
    date_to: date  # inclusive, in the user's zone
    date_field: str = DATE_RECEIVED
    team_id: int | None = None
    owner_id: int | None = None
    source_id: int | None = None

    @classmethod
    def default(cls, *, today: date) -> DashboardFilters:
        return cls(date_from=today - timedelta(days=DEFAULT_DAYS - 1), date_to=today)

    @property
    def start(self) -> datetime:
        return day_start(self.date_from)

    @property
    def end(self) -> datetime:
        return day_end(self.date_to)

    @property
    def changed_mode(self) -> bool:
        return self.date_field == DATE_CHANGED

    def query_params(self) -> dict[str, Any]:
        """These filters as the dashboard's own query string (CSV links, digest links)."""
        return _clean(
            {
                "date_field": self.date_field,
                "date_from": self.date_from.isoformat(),
                "date_to": self.date_to.isoformat(),
                "team": self.team_id,
                "rep": self.owner_id,
                "source": self.source_id,
            }
        )

    def lead_params(self, *, with_dates: bool = True) -> dict[str, Any]:
        """These filters in the lead list's terms: the base of every drill-down link."""
        params: dict[str, Any] = {"stage": STAGE_FILTER_ALL, "team": self.team_id, "source": self.source_id}
        params["owner"] = self.owner_id
        if with_dates:
            prefix = "changed" if self.changed_mode else "received"
            params[f"{prefix}_from"] = self.date_from.isoformat()
            params[f"{prefix}_to"] = self.date_to.isoformat()
        return _clean(params)


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v not in (None, "", False)}


def dashboard_teams(*, user: User) -> QuerySet[Team]:
    """Teams whose dashboard the user may open: all for admins, the ones they manage otherwise."""
    if user.has_perm("leads.view_all_leads"):
        return Team.objects.all()
    return Team.objects.filter(manager=user)


def dashboard_reps(*, user: User, team_id: int | None = None) -> list[User]:
    """People whose leads the user may filter by (and reassign to): members and managers of the scope's teams."""
    teams = dashboard_teams(user=user)
    if team_id:
        teams = teams.filter(pk=team_id)
    q = User.objects.filter(Q(memberships__team__in=teams) | Q(managed_teams__in=teams), is_active=True).distinct()
    return list(q.order_by("first_name", "last_name", "username"))


def _scope_q(*, user: User, filters: DashboardFilters, team_ids: list[int], prefix: str = "") -> Q | None:
    """The user's visible leads under the team / rep / source filters (no dates), as a condition
    on the lead (`prefix` "lead__" from a follow-up, a call, a stage change); None: no lead.

    The same set as `Lead.objects.visible_to(user)` (what the drilled-down lead list starts
    from), written with the team ids already loaded: `team__manager=user` would join teams and
    scan every lead, `team_id IN (…)` uses the lead indexes. As a condition on the joined lead
    (not `lead__in=<subquery>`), PostgreSQL joins each row to its lead once.
    """
    p = prefix
    if not user.is_active:
        return None
    if filters.team_id:
        if filters.team_id not in team_ids:
            return None
        cond = Q(**{f"{p}team_id": filters.team_id})
    elif user.has_perm("leads.view_all_leads"):
        cond = Q()
    elif user.has_perm("leads.view_team_leads"):
        cond = Q(**{f"{p}owner": user}) | Q(**{f"{p}team_id__in": team_ids})
    else:
        cond = Q(**{f"{p}owner": user})
    if filters.owner_id:
        cond &= Q(**{f"{p}owner_id": filters.owner_id})
    if filters.source_id:
        cond &= Q(**{f"{p}source_id": filters.source_id})
    return cond


def _scoped(model, scope: Q | None) -> QuerySet:
    return model.objects.none() if scope is None else model.objects.filter(scope)


def _scoped_leads(*, user: User, filters: DashboardFilters, team_ids: list[int]) -> QuerySet[Lead]:
    """The user's visible leads under the team / rep / source filters (no dates): see _scope_q."""
    return _scoped(Lead, _scope_q(user=user, filters=filters, team_ids=team_ids))


def dashboard_leads(*, user: User, filters: DashboardFilters, team_ids: list[int]) -> QuerySet[Lead]:
    """The leads every dated panel is computed over (see the module docstring)."""
    q = _scoped_leads(user=user, filters=filters, team_ids=team_ids)
    if filters.changed_mode:
        return q.filter(stage_reached_q("", since=filters.start, until=filters.end))
    return q.filter(received_at__gte=filters.start, received_at__lt=filters.end)


def dashboard_history(
    *, user: User, filters: DashboardFilters, team_ids: list[int], leads: QuerySet[Lead]
) -> QuerySet[StageChange]:
    """The stage changes of `leads` (dashboard_leads of the same arguments).

    For a received cohort, as conditions on the joined lead (see _scope_q): PostgreSQL joins each
    change to its lead once, reading the lead from lead_received_idx, where `lead IN (<the
    leads>)` read every lead twice (~2× the time at a million leads). The changed cohort is
    itself defined by an EXISTS over the history, so it stays a subquery.
    """
    if filters.changed_mode:
        return StageChange.objects.filter(lead__in=leads.values("id"))
    scope = _scope_q(user=user, filters=filters, team_ids=team_ids, prefix="lead__")
    return _scoped(StageChange, scope).filter(lead__received_at__gte=filters.start, lead__received_at__lt=filters.end)


# --- Numbers that link to their leads ------------------------------------------------------------


@dataclass(frozen=True)
class Num:
    """A count of leads and the URL of the lead list showing exactly them."""

    n: int
    url: str

    def __str__(self) -> str:
        return str(self.n)


@dataclass(frozen=True)
class Rate:
    """k of n as a share, with its Wilson 95% interval; links to the k leads."""

    k: Num
    n: int
    min_sample: int = 0

    @property
    def pct(self) -> float | None:
        return 100.0 * self.k.n / self.n if self.n else None

    @property
    def interval(self) -> tuple[float, float] | None:
        bounds = wilson_interval(self.k.n, self.n)
        return (100.0 * bounds[0], 100.0 * bounds[1]) if bounds else None

    @property
    def too_few(self) -> bool:
        return self.n < self.min_sample

    @property
    def url(self) -> str:
        return self.k.url


def wilson_interval(k: int, n: int, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval for k successes in n trials (None when n is 0)."""
    if n <= 0:
        return None
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _link(filters: DashboardFilters, *, with_dates: bool = True, **extra: Any) -> str:
    params = {**filters.lead_params(with_dates=with_dates), **_clean(extra)}
    return f"{reverse('leads:queue')}?{urlencode(params)}"


# --- The aggregates ------------------------------------------------------------------------------


COUNT_KEYS = ("n", "contacted", "within_sla", "open_lead", "open_prospect") + tuple(
    f"reached_{s}" for s in (Stage.PROSPECT, Stage.CUSTOMER, *SIDE_EXITS)
)
REACH_KEYS = COUNT_KEYS[5:]


def _bucket_case(prefix: str = "") -> Case:
    return Case(
        *[When(response_bucket_q(b.code, prefix=prefix), then=Value(b.code)) for b in RESPONSE_BUCKETS],
        default=Value(RESPONSE_NEVER),
    )


def _zero() -> dict[str, int]:
    return dict.fromkeys(COUNT_KEYS, 0)


def _counts(
    leads: QuerySet[Lead], history: QuerySet[StageChange], filters: DashboardFilters, sla: int
) -> tuple[dict[str, Any], list[dict], list[dict], list[dict]]:
    """Counts and speed-to-lead percentiles: in total, per source, per rep, per source × bucket.

    Five queries, each proportional to the leads in view (no scan of the whole history):
    1. the leads grouped by (source, owner, response bucket): n, within SLA, open now;
    2. their stage changes grouped the same way: distinct leads that reached each stage;
    3–5. median and 90th percentile of the response time in total, per source, per rep.
    Every lead sits in exactly one (source, owner, bucket) cell, so the counts of the other
    groupings are sums of cells (a few dozen, added in Python).
    """
    lead_cells = (
        leads.annotate(bucket=_bucket_case())
        .values("source_id", "owner_id", "bucket")
        .annotate(
            n=Count("id"),
            within_sla=Count("id", filter=contacted_within_q(sla)),
            open_lead=Count("id", filter=Q(stage=Stage.LEAD)),
            open_prospect=Count("id", filter=Q(stage=Stage.PROSPECT)),
        )
        .order_by()
    )
    moves = history
    if filters.changed_mode:
        moves = moves.filter(changed_at__gte=filters.start, changed_at__lt=filters.end)
    reach_cells = (
        moves.annotate(bucket=_bucket_case("lead__"))
        .values("lead__source_id", "lead__owner_id", "bucket")
        .annotate(
            **{
                f"reached_{stage}": Count("lead_id", distinct=True, filter=Q(to_stage__in=REACHED_STAGES[stage]))
                for stage in (Stage.PROSPECT, Stage.CUSTOMER, *SIDE_EXITS)
            }
        )
        .order_by()
    )
    cells: dict[tuple, dict[str, int]] = {}
    for row in lead_cells:
        cell = cells.setdefault((row["source_id"], row["owner_id"], row["bucket"]), _zero())
        for key in ("n", "within_sla", "open_lead", "open_prospect"):
            cell[key] = row[key]
        cell["contacted"] = 0 if row["bucket"] == RESPONSE_NEVER else row["n"]
    for row in reach_cells:
        cell = cells.setdefault((row["lead__source_id"], row["lead__owner_id"], row["bucket"]), _zero())
        for key in REACH_KEYS:
            cell[key] = row[key]

    def summed(keyfn) -> dict[Any, dict[str, int]]:
        out: dict[Any, dict[str, int]] = {}
        for key, cell in cells.items():
            acc = out.setdefault(keyfn(key), _zero())
            for name in COUNT_KEYS:
                acc[name] += cell[name]
        return out

    response = Seconds("first_contacted_at", "received_at")
    pcts = {"response_median": Percentile(response, 0.5), "response_p90": Percentile(response, 0.9)}
    tot = {**summed(lambda k: None).get(None, _zero()), **leads.aggregate(**pcts)}
    per_source = summed(lambda k: k[0])
    by_source = [
        {**per_source.get(row["source_id"], _zero()), **row}
        for row in leads.values("source_id", "source__name").annotate(**pcts).order_by("source__name", "source_id")
    ]
    by_source.sort(key=lambda r: -r["n"])
    per_rep = summed(lambda k: k[1])
    by_rep = [
        {**per_rep.get(row["owner_id"], _zero()), **row}
        for row in leads.values("owner_id", "owner__first_name", "owner__last_name", "owner__username")
        .annotate(**pcts)
        .order_by("owner__first_name", "owner__last_name", "owner__username", "owner_id")
    ]
    grid = [
        {
            "source_id": key[0],
            "bucket": key[1],
            "n": c["n"],
            "prospect": c["reached_prospect"],
            "customer": c["reached_customer"],
        }
        for key, c in summed(lambda k: (k[0], k[2])).items()
    ]
    return tot, by_source, by_rep, grid


def _stage_durations(history: QuerySet[StageChange]) -> dict[str, float | None]:
    """Median seconds of finished stays in each timed stage. One query (window in a subquery)."""
    q = history.annotate(
        left_at=Window(NextValue("changed_at"), partition_by=[F("lead_id")], order_by=[F("changed_at"), F("id")])
    )
    stay = Seconds("left_at", "changed_at")
    row = q.aggregate(**{s: Percentile(stay, 0.5, filter=Q(to_stage=s)) for s in TIMED_STAGES})
    return row


# --- Page shape ------------------------------------------------------------------------------------


@dataclass
class SpeedRow:
    label: str
    leads: Num
    contacted: Rate
    within_sla: Rate
    median_min: float | None
    p90_min: float | None
    key: Any = None


@dataclass
class SourceRow:
    source_id: int | None
    label: str
    leads: Num
    contacted: Rate
    within_sla: Rate
    median_min: float | None
    p90_min: float | None
    lead_to_prospect: Rate
    prospect_to_customer: Rate
    disqualified: Num
    lost: Num
    nurture: Num
    reasons: list[tuple[str, Num]] = field(default_factory=list)
    buckets: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def too_few(self) -> bool:
        return self.lead_to_prospect.too_few

    @property
    def bucket_list(self) -> list[dict[str, Any] | None]:
        return [self.buckets.get(code) for code in [b.code for b in RESPONSE_BUCKETS] + [RESPONSE_NEVER]]


@dataclass
class Dashboard:
    filters: DashboardFilters
    now: datetime
    sla_minutes: int
    cooling_days: int
    cold_days: int
    min_sample: int
    funnel: list[dict[str, Any]]
    exits: list[dict[str, Any]]
    open_now: list[dict[str, Any]]
    total: Num
    speed_total: SpeedRow
    speed_by_rep: list[SpeedRow]
    sources: list[SourceRow]
    buckets: list[dict[str, Any]]
    reasons: list[tuple[str, Num]]
    trend: list[dict[str, Any]]
    cooling: Num
    cold: Num
    cooling_leads: list[Lead]
    discipline: list[DisciplineRow] = field(default_factory=list)
    discipline_total: DisciplineRow | None = None
    qualification: Qualification | None = None
    escalation_hours: int = 24

    @property
    def bucket_labels(self) -> list[str]:
        return [b.label for b in RESPONSE_BUCKETS] + ["not contacted"]

    def chart_data(self) -> dict[str, Any]:
        """Plain numbers for static/js/dashboard.js (rendered with json_script)."""
        return {
            "funnel": {"labels": [s["label"] for s in self.funnel], "values": [s["reached"].n for s in self.funnel]},
            "trend": {
                "labels": [w["week"].isoformat() for w in self.trend],
                "series": [
                    {"label": label, "values": [w[key].n for w in self.trend]}
                    for key, label in [("received", "Received"), ("prospect", "→ Prospect"), ("customer", "→ Customer")]
                ],
            },
            "sources": {
                "labels": [s.label for s in self.sources],
                "lead_to_prospect": [_round(s.lead_to_prospect.pct) for s in self.sources],
                "low": [_round(s.lead_to_prospect.interval[0]) if s.leads.n else None for s in self.sources],
                "high": [_round(s.lead_to_prospect.interval[1]) if s.leads.n else None for s in self.sources],
                "leads": [s.leads.n for s in self.sources],
            },
            "buckets": {
                "labels": [b["label"] for b in self.buckets],
                "lead_to_prospect": [_round(b["lead_to_prospect"].pct) for b in self.buckets],
                "leads": [b["leads"].n for b in self.buckets],
            },
        }


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60.0, 1)


def dashboard_build(
    *,
    user: User,
    filters: DashboardFilters,
    teams: list[Team] | None = None,
    now: datetime | None = None,
    override_limit: int = OVERRIDE_LIST_SIZE,
    knobs: tuple[int, int, int, int] | None = None,
) -> Dashboard:
    """Everything the dashboard page shows, in a fixed number of queries (11).

    1–5. Counts and speed-to-lead percentiles, in total, per source, per rep and per source ×
         response bucket (see _counts).
    6. Median time in each stage (a window over the stage history).
    7. Disqualification reasons per source.
    8. Leads received per week, 9. moves into prospect / customer per week.
    10. Open leads going cold: the longest waits first, and 11. their counts.
    12–15. Follow-up discipline per rep (see _discipline).
    16–18. Qualification: calls and failing rules, override counts, the override list.
    `teams` is dashboard_teams(user) when the caller has it already (else one more query);
    `override_limit` caps the override list (the CSV asks for more); `knobs` is dashboard_policy_knobs()
    when the caller has read it already (else one more query).
    """
    now = now or timezone.now()
    team_ids = [t.pk for t in (teams if teams is not None else dashboard_teams(user=user))]
    sla, cooling_days, cold_days, escalation_hours = knobs or dashboard_policy_knobs()
    min_sample = _min_sample()
    leads = dashboard_leads(user=user, filters=filters, team_ids=team_ids)
    link = lambda **extra: _link(filters, **extra)  # noqa: E731

    # Totals.
    history = dashboard_history(user=user, filters=filters, team_ids=team_ids, leads=leads)
    tot, by_source, by_rep, grid = _counts(leads, history, filters, sla)
    total = Num(tot["n"], link())
    reached = {Stage.LEAD: total}
    for stage in (Stage.PROSPECT, Stage.CUSTOMER, *SIDE_EXITS):
        reached[stage] = Num(tot[f"reached_{stage}"], link(reached=stage))

    durations = _stage_durations(history)  # 6.
    funnel = []
    for i, stage in enumerate(MAIN_PATH):
        nxt = MAIN_PATH[i + 1] if i + 1 < len(MAIN_PATH) else None
        step = {
            "stage": stage,
            "label": Stage(stage).label,
            "reached": reached[stage],
            "of_total": Rate(reached[stage], total.n),
            "median_days": _days(durations.get(stage)),
        }
        if nxt:
            step["next_label"] = Stage(nxt).label
            step["conversion"] = Rate(reached[nxt], reached[stage].n, min_sample)
            step["drop_pct"] = 100.0 - step["conversion"].pct if step["conversion"].pct is not None else None
        funnel.append(step)
    exits = [
        {
            "stage": s,
            "label": Stage(s).label,
            "count": reached[s],
            "share": Rate(reached[s], total.n),
            "median_days": _days(durations.get(s)) if s in TIMED_STAGES else None,
        }
        for s in SIDE_EXITS
    ]
    open_now = [
        {"label": f"Still {Stage(s).label.lower()}", "count": Num(tot[f"open_{s}"], link(stage=s))}
        for s in Lead.OPEN_STAGES
    ]
    speed_total = _speed_row("All", tot, link, sla)

    # Per source.
    sources = []
    for row in by_source:
        slink = lambda _sid=row["source_id"], **extra: link(source=_sid, **extra)  # noqa: E731
        n = row["n"]
        prospects = Num(row["reached_prospect"], slink(reached=Stage.PROSPECT))
        customers = Num(row["reached_customer"], slink(reached=Stage.CUSTOMER))
        speed = _speed_row(row["source__name"], row, slink, sla)
        sources.append(
            SourceRow(
                source_id=row["source_id"],
                label=row["source__name"],
                leads=Num(n, slink()),
                contacted=speed.contacted,
                within_sla=speed.within_sla,
                median_min=speed.median_min,
                p90_min=speed.p90_min,
                lead_to_prospect=Rate(prospects, n, min_sample),
                prospect_to_customer=Rate(customers, prospects.n, min_sample),
                disqualified=Num(row["reached_disqualified"], slink(reached=Stage.DISQUALIFIED)),
                lost=Num(row["reached_lost"], slink(reached=Stage.LOST)),
                nurture=Num(row["reached_nurture"], slink(reached=Stage.NURTURE)),
            )
        )
    by_id = {s.source_id: s for s in sources}

    # Per rep.
    speed_by_rep = []
    for row in by_rep:
        if row["owner_id"] is None:
            label, rlink = "Unassigned", (lambda **extra: link(unassigned="on", **extra))
        else:
            label = f"{row['owner__first_name']} {row['owner__last_name']}".strip() or row["owner__username"]
            rlink = lambda _oid=row["owner_id"], **extra: link(owner=_oid, **extra)  # noqa: E731
        speed_by_rep.append(_speed_row(label, row, rlink, sla, key=row["owner_id"]))

    # 4. Source × response bucket.
    bucket_tot: dict[str, dict[str, int]] = {}
    for row in grid:
        code = row["bucket"]
        sums = bucket_tot.setdefault(code, {"n": 0, "prospect": 0, "customer": 0})
        for key in sums:
            sums[key] += row[key]
        source = by_id.get(row["source_id"])
        if source is not None:
            source.buckets[code] = {
                "leads": Num(row["n"], link(source=row["source_id"], response=code)),
                "lead_to_prospect": Rate(
                    Num(row["prospect"], link(source=row["source_id"], response=code, reached=Stage.PROSPECT)),
                    row["n"],
                    min_sample,
                ),
            }
    buckets = []
    for code, label in [(b.code, b.label) for b in RESPONSE_BUCKETS] + [(RESPONSE_NEVER, "not contacted")]:
        sums = bucket_tot.get(code, {"n": 0, "prospect": 0, "customer": 0})
        prospects = Num(sums["prospect"], link(response=code, reached=Stage.PROSPECT))
        buckets.append(
            {
                "code": code,
                "label": label,
                "leads": Num(sums["n"], link(response=code)),
                "lead_to_prospect": Rate(prospects, sums["n"], min_sample),
                "prospect_to_customer": Rate(
                    Num(sums["customer"], link(response=code, reached=Stage.CUSTOMER)), sums["prospect"], min_sample
                ),
            }
        )

    # 7. Disqualification reasons, per source.
    # `lead IN (<the leads>)`, not `history`: joined the other way, PostgreSQL reads every
    # disqualification (a third of the leads) to keep the cohort's, where this form looks each
    # cohort lead's history up in stagechange_lead_idx (~2–3× faster at a million leads).
    dq = StageChange.objects.filter(lead__in=leads.values("id"), to_stage=Stage.DISQUALIFIED)
    if filters.changed_mode:
        dq = dq.filter(changed_at__gte=filters.start, changed_at__lt=filters.end)
    dq_rows = (
        dq.annotate(reason_key=_reason_key())
        .values("lead__source_id", "reason_key")
        .annotate(n=Count("lead_id", distinct=True))
        .order_by("-n", "reason_key")
    )
    reason_tot: dict[str, int] = {}
    for row in dq_rows:
        reason_tot[row["reason_key"]] = reason_tot.get(row["reason_key"], 0) + row["n"]
        source = by_id.get(row["lead__source_id"])
        if source is not None:
            source.reasons.append(
                (row["reason_key"], Num(row["n"], link(source=row["lead__source_id"], dq_reason=row["reason_key"])))
            )
    reasons = [
        (key, Num(n, link(dq_reason=key))) for key, n in sorted(reason_tot.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    for source in sources:
        source.reasons = source.reasons[:TOP_REASONS]

    # 8 and 9. Weekly trend (weeks in the user's zone, clipped to the range).
    trend = _weekly_trend(user=user, filters=filters, leads=leads, history=history)

    # 10 and 11. Going cold.
    cooling = dashboard_cooling(
        user=user, filters=filters, team_ids=team_ids, now=now, cooling_days=cooling_days, cold_days=cold_days
    )
    scoped = _scoped_leads(user=user, filters=filters, team_ids=team_ids)

    # 12–18. Follow-up discipline and qualification, over the scoped leads (no cohort: the range
    # picks the follow-ups due, the calls held and the overrides made in it).
    scope = _scope_q(user=user, filters=filters, team_ids=team_ids, prefix="lead__")
    window = DrillWindow(since=filters.start, until=filters.end, now=now, grace=timedelta(hours=escalation_hours))
    discipline, discipline_total = _discipline(scoped, scope, filters, window)
    qualification = _qualification(scope, filters, window, override_limit=override_limit)

    return Dashboard(
        filters=filters,
        now=now,
        sla_minutes=sla,
        cooling_days=cooling_days,
        cold_days=cold_days,
        min_sample=min_sample,
        funnel=funnel,
        exits=exits,
        open_now=open_now,
        total=total,
        speed_total=speed_total,
        speed_by_rep=speed_by_rep,
        sources=sources,
        buckets=buckets,
        reasons=reasons,
        trend=trend,
        cooling=cooling.cooling,
        cold=cooling.cold,
        cooling_leads=cooling.leads,
        discipline=discipline,
        discipline_total=discipline_total,
        qualification=qualification,
        escalation_hours=escalation_hours,
    )


@dataclass
class Cooling:
    cooling: Num | None  # None: not counted (a snapshot holds the counts)
    cold: Num | None
    leads: list[Lead]


def dashboard_cooling(
    *,
    user: User,
    filters: DashboardFilters,
    team_ids: list[int],
    now: datetime,
    cooling_days: int,
    cold_days: int,
    count: bool = True,
) -> Cooling:
    """Open leads going cold, whatever the date range (a cold lead is old by nature): the counts
    (one query, unless not `count`) and the longest waits first (one query). The list is always
    computed live, also when the rest of the page comes from a snapshot: the bulk-reassign form
    ticks these very leads. The counts come with the snapshot: at a million leads an admin's
    count reads some 150,000 open leads, the list only its 50 rows from an index."""
    # The linked list's own condition (idle_q), which the lead_*open_waiting_idx indexes serve.
    cold_cut = now - timedelta(days=cold_days)
    cooling = (
        _scoped_leads(user=user, filters=filters, team_ids=team_ids)
        .filter(stage__in=Lead.OPEN_STAGES)
        .filter(idle_q(days=cooling_days, now=now))
        .alias(waiting_since=Coalesce("last_touched_at", "received_at"))
    )
    # Longest wait first (never touched: waiting since arrival), as in the work queue.
    leads = list(cooling.select_related("owner", "source", "team").order_by("waiting_since", "id")[:COLD_LIST_SIZE])
    for lead in leads:
        lead.is_cold_now = lead.waiting_since() <= cold_cut
    if not count:
        return Cooling(cooling=None, cold=None, leads=leads)
    counts = cooling.aggregate(cooling=Count("id"), cold=Count("id", filter=idle_q(days=cold_days, now=now)))
    cold_link = lambda days: _link(filters, with_dates=False, stage=STAGE_FILTER_OPEN, idle_days=days)  # noqa: E731
    return Cooling(
        cooling=Num(counts["cooling"], cold_link(cooling_days)),
        cold=Num(counts["cold"], cold_link(cold_days)),
        leads=leads,
    )


def _days(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 86400.0, 1)


def _speed_row(label: str, row: dict[str, Any], link, sla: int, key: Any = None) -> SpeedRow:
    n = row["n"]
    return SpeedRow(
        label=label,
        leads=Num(n, link()),
        contacted=Rate(Num(row["contacted"], link(contacted="true")), n),
        within_sla=Rate(Num(row["within_sla"], link(contacted_within=sla)), n),
        median_min=_minutes(row["response_median"]),
        p90_min=_minutes(row["response_p90"]),
        key=key,
    )


def _weekly_trend(
    *, user: User, filters: DashboardFilters, leads: QuerySet[Lead], history: QuerySet[StageChange]
) -> list[dict[str, Any]]:
    """Per week of the range: leads received, and leads moved into prospect / customer.

    Two GROUP BY queries. Weeks start on Monday in the user's zone and are clipped to the range,
    so each week's links select exactly the leads counted.
    """
    tz = timezone.get_current_timezone()
    received = (
        leads.filter(received_at__gte=filters.start, received_at__lt=filters.end)
        .annotate(week=TruncWeek("received_at", tzinfo=tz))
        .values("week")
        .annotate(n=Count("id"))
        .order_by()
    )
    moves = (
        history.filter(
            changed_at__gte=filters.start,
            changed_at__lt=filters.end,
            to_stage__in=REACHED_STAGES[Stage.PROSPECT],
        )
        .annotate(week=TruncWeek("changed_at", tzinfo=tz))
        .values("week")
        .annotate(
            prospect=Count("lead_id", distinct=True),
            customer=Count("lead_id", distinct=True, filter=Q(to_stage__in=REACHED_STAGES[Stage.CUSTOMER])),
        )
        .order_by()
    )
    weeks: dict[date, dict[str, int]] = {}
    for row in received:
        weeks.setdefault(_as_date(row["week"]), {})["received"] = row["n"]
    for row in moves:
        w = weeks.setdefault(_as_date(row["week"]), {})
        w["prospect"], w["customer"] = row["prospect"], row["customer"]

    out = []
    monday = filters.date_from - timedelta(days=filters.date_from.weekday())
    while monday <= filters.date_to:
        first, last = max(monday, filters.date_from), min(monday + timedelta(days=6), filters.date_to)
        got = weeks.get(monday, {})
        base = {**filters.lead_params(), "stage": STAGE_FILTER_ALL}
        week_received = {**base, "received_from": first.isoformat(), "received_to": last.isoformat()}
        week_moved = {**base, "changed_from": first.isoformat(), "changed_to": last.isoformat()}
        queue = reverse("leads:queue")
        out.append(
            {
                "week": monday,
                "first": first,
                "last": last,
                "received": Num(got.get("received", 0), f"{queue}?{urlencode(week_received)}"),
                "prospect": Num(
                    got.get("prospect", 0), f"{queue}?{urlencode({**week_moved, 'reached': Stage.PROSPECT})}"
                ),
                "customer": Num(
                    got.get("customer", 0), f"{queue}?{urlencode({**week_moved, 'reached': Stage.CUSTOMER})}"
                ),
            }
        )
        monday += timedelta(days=7)
    return out


def _as_date(value: datetime | date) -> date:
    if isinstance(value, datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


def dashboard_sources() -> QuerySet[LeadSource]:
    return LeadSource.objects.order_by("name")


# --- Follow-up discipline and qualification -------------------------------------------------------


@dataclass(frozen=True)
class Share:
    """k of n things that are not leads (follow-ups, calls): a percentage, shown beside the
    lead counts that link (a follow-up share has no lead list of the same size)."""

    k: int
    n: int

    @property
    def pct(self) -> float | None:
        return 100.0 * self.k / self.n if self.n else None


@dataclass
class DisciplineRow:
    label: str
    key: int | None
    open: Num
    overdue: Num  # leads with an overdue follow-up
    no_next_step: Num
    on_time: Share  # follow-ups judged in the range (see dashboard.drill)
    late: Num  # leads with a follow-up late or missed in the range
    agreed: Share
    broken: Num  # leads with an agreed date not kept
    unsent: Num  # leads with a helpful close not sent


DISCIPLINE_KEYS = ("open", "overdue", "open_pending", "unsent", "due", "on_time", "late", "agreed", "kept", "broken")


def _person_label(row: dict[str, Any], prefix: str) -> str:
    name = f"{row[f'{prefix}first_name'] or ''} {row[f'{prefix}last_name'] or ''}".strip()
    return name or row[f"{prefix}username"]


def _discipline(
    scoped: QuerySet[Lead], scope: Q | None, filters: DashboardFilters, w: DrillWindow
) -> tuple[list[DisciplineRow], DisciplineRow]:
    """Per rep (the leads' current owner). Four GROUP BY queries: open leads; leads with an
    overdue follow-up and open leads with a pending one; unsent helpful closes; follow-ups due
    in the range.

    Every linked figure counts distinct leads, and a lead has one owner, so the rows add up to
    the total row and each link lists exactly its count.
    """
    names = ("first_name", "last_name", "username")
    owner = "lead__owner_id"
    person = ("owner_id", *[f"owner__{n}" for n in names])
    scoped_open = scoped.filter(stage__in=Lead.OPEN_STAGES)
    q1 = scoped_open.values(*person).annotate(open=Count("id")).order_by()

    def leads_per_owner(q: QuerySet[Lead], kind: str) -> QuerySet[Lead]:
        return q.values(*person).annotate(kind=Value(kind), n=Count("id")).order_by()

    # Leads with an EXISTS over their pending follow-ups (the drilled lists' own conditions),
    # both in one UNION ALL: PostgreSQL semi-joins the leads in view to the pending rows of
    # followup_lead_pending_idx, where counting distinct leads over the pending rows joined to
    # their leads (a fifth of all follow-ups) sorted every row.
    q2 = leads_per_owner(scoped.filter(drill.drill_q(drill.FOLLOWUP_OVERDUE, w)), "overdue").union(
        leads_per_owner(scoped_open.filter(drill.has_next_step_q()), "open_pending"), all=True
    )
    q3 = (
        _scoped(HelpfulClose, scope)
        .filter(sent_at__isnull=True)
        .values(owner, *[f"lead__owner__{n}" for n in names])
        .annotate(unsent=Count("lead_id", distinct=True))
        .order_by()
    )
    q4 = (
        _scoped(FollowUp, scope)
        .filter(drill.judged_q(w))
        .values(owner, *[f"lead__owner__{n}" for n in names])
        # Rows counted by their (never null) lead, and conditions on the judged rows' own
        # columns (missed_q, not late_q): every follow-up column read is in
        # followup_worked_due_idx, so the rows come from the index alone.
        .annotate(
            due=Count("lead_id"),
            on_time=Count("lead_id", filter=drill.on_time_q(w)),
            late=Count("lead_id", distinct=True, filter=drill.missed_q(w)),
            agreed=Count("lead_id", filter=Q(agreed_with_lead=True)),
            kept=Count("lead_id", filter=Q(agreed_with_lead=True) & drill.agreed_kept_q()),
            broken=Count("lead_id", distinct=True, filter=drill.agreed_missed_q()),
        )
        .order_by()
    )
    cells: dict[int | None, dict[str, Any]] = {}
    for rows, prefix in ((q1, "owner__"), (q2, "owner__"), (q3, "lead__owner__"), (q4, "lead__owner__")):
        for row in rows:
            key = row["owner_id"] if prefix == "owner__" else row[owner]
            cell = cells.setdefault(key, dict.fromkeys(DISCIPLINE_KEYS, 0))
            if key is not None:
                cell["label"] = _person_label(row, prefix)
            if "kind" in row:
                cell[row["kind"]] = row["n"]
            for k in DISCIPLINE_KEYS:
                if k in row:
                    cell[k] = row[k]

    def make(label: str, key: int | None, c: dict[str, Any], **who: Any) -> DisciplineRow:
        def link(code: str = "", *, ranged: bool = False, **extra: Any) -> str:
            if ranged:
                extra.update(drill_from=filters.date_from.isoformat(), drill_to=filters.date_to.isoformat())
            return _link(filters, with_dates=False, drill=code, **who, **extra)

        return DisciplineRow(
            label=label,
            key=key,
            open=Num(c["open"], link(stage=STAGE_FILTER_OPEN)),
            overdue=Num(c["overdue"], link(drill.FOLLOWUP_OVERDUE)),
            no_next_step=Num(c["open"] - c["open_pending"], link(drill.NO_NEXT_STEP)),
            on_time=Share(c["on_time"], c["due"]),
            late=Num(c["late"], link(drill.FOLLOWUP_LATE, ranged=True)),
            agreed=Share(c["kept"], c["agreed"]),
            broken=Num(c["broken"], link(drill.AGREED_BROKEN, ranged=True)),
            unsent=Num(c["unsent"], link(drill.CLOSE_UNSENT)),
        )

    out = []
    for key, c in cells.items():
        if key is None:
            out.append(make("Unassigned", None, c, unassigned="on"))
        else:
            out.append(make(c["label"], key, c, owner=key))
    out.sort(key=lambda r: (r.key is None, r.label.lower(), r.key or 0))
    total = {k: sum(c[k] for c in cells.values()) for k in DISCIPLINE_KEYS}
    return out, make("All", None, total)


@dataclass
class RuleFailures:
    kind: str
    label: str
    calls: int
    leads: Num


@dataclass
class Qualification:
    calls: int
    passed: Share  # calls passing / calls held in the range
    leads_called: Num
    leads_passed: Num
    leads_failed: Num
    rules: list[RuleFailures]
    overrides: int
    override_leads: Num
    override_list: list[StageChange]


def _qualification(scope: Q | None, filters: DashboardFilters, w: DrillWindow, *, override_limit: int) -> Qualification:
    """Discovery calls held in the range and manager overrides made in it. Three queries:
    1. the calls: count, passing, leads, and per rule kind the failing calls and their leads
       (conditional counts over the JSON evaluation, one pass);
    2. override counts; 3. the latest overrides with their lead and manager.
    """
    kinds = CriteriaRule.Kind.values
    calls = _scoped(DiscoveryCall, scope).filter(drill.calls_in(w))
    agg = calls.aggregate(
        calls=Count("id"),
        passed=Count("id", filter=drill.call_passed_q()),
        leads=Count("lead_id", distinct=True),
        leads_passed=Count("lead_id", distinct=True, filter=drill.call_passed_q()),
        leads_failed=Count("lead_id", distinct=True, filter=drill.call_failed_q()),
        **{f"calls_{i}": Count("id", filter=drill.rule_failed_q(k)) for i, k in enumerate(kinds)},
        **{f"leads_{i}": Count("lead_id", distinct=True, filter=drill.rule_failed_q(k)) for i, k in enumerate(kinds)},
    )
    overrides = _scoped(StageChange, scope).filter(drill.overrides_in(w))
    ov = overrides.aggregate(n=Count("id"), leads=Count("lead_id", distinct=True))
    override_list = list(overrides.select_related("lead", "changed_by").order_by("-changed_at", "-id")[:override_limit])

    def link(code: str) -> str:
        return _link(
            filters,
            with_dates=False,
            drill=code,
            drill_from=filters.date_from.isoformat(),
            drill_to=filters.date_to.isoformat(),
        )

    rules = [
        RuleFailures(
            kind=k,
            label=CriteriaRule.Kind(k).label,
            calls=agg[f"calls_{i}"],
            leads=Num(agg[f"leads_{i}"], link(f"{drill.RULE_FAILED}{k}")),
        )
        for i, k in enumerate(kinds)
        if agg[f"calls_{i}"]
    ]
    rules.sort(key=lambda r: (-r.calls, -r.leads.n, r.label))
    return Qualification(
        calls=agg["calls"],
        passed=Share(agg["passed"], agg["calls"]),
        leads_called=Num(agg["leads"], link(drill.CALL_HELD)),
        leads_passed=Num(agg["leads_passed"], link(drill.CALL_PASSED)),
        leads_failed=Num(agg["leads_failed"], link(drill.CALL_FAILED)),
        rules=rules,
        overrides=ov["n"],
        override_leads=Num(ov["leads"], link(drill.OVERRIDE)),
        override_list=override_list,
    )
