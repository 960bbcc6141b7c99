"""Dashboard snapshots: the page's figures computed ahead and stored as JSON (issue #6).

At a million leads the aggregates of dashboard_build take seconds; the page must answer in
300 ms. So:
- the beat task (dashboard.tasks.snapshots_refresh) recomputes every manager's default view
  (their teams, the last 90 days) and the admins' all-teams default every
  DASHBOARD_SNAPSHOT_INTERVAL seconds;
- a page view shows the snapshot of its scope and filters when one is fresh (one indexed
  query), else computes live (dashboard_build: the same figures) and stores it, so the next view
  of the same filters is fast; "Refresh now" recomputes live;
- the going-cold list is always live (selectors.dashboard_cooling): the bulk-reassign form
  ticks its very leads, and it is cheap (an index on the waiting time of open leads); its
  counts come with the snapshot.

The CSV export and the weekly digest keep computing live.

Serialisation is explicit: our dataclasses become JSON objects tagged with their class name,
from a fixed list of classes, and back (no pickle: a stored row never names code to run).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from accounts.models import Team, User
from leads.models import StageChange

from .models import DashboardSnapshot
from .selectors import (
    Dashboard,
    DashboardFilters,
    DisciplineRow,
    Num,
    Qualification,
    Rate,
    RuleFailures,
    Share,
    SourceRow,
    SpeedRow,
    dashboard_build,
    dashboard_cooling,
    dashboard_policy_knobs,
    dashboard_teams,
)

# A snapshot older than the beat interval plus this (the time a refresh of every manager's view
# may take on a big database, and a late beat) is stale: the page computes live instead.
SNAPSHOT_MARGIN = timedelta(minutes=5)
# Snapshots of filter sets nobody reopened are deleted by the beat task after this.
SNAPSHOT_KEEP = timedelta(days=1)
# Live on every view, so never stored.
LIVE_FIELDS = ("cooling_leads",)


def snapshot_interval() -> timedelta:
    return timedelta(seconds=settings.DASHBOARD_SNAPSHOT_INTERVAL)


def snapshot_max_age() -> timedelta:
    return snapshot_interval() + SNAPSHOT_MARGIN


# --- Serialisation ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LeadShown:
    """The little of a lead an override row shows, as stored (the live row has the Lead)."""

    name: str
    company: str
    url: str

    def get_absolute_url(self) -> str:
        return self.url


@dataclasses.dataclass(frozen=True)
class OverrideShown:
    """A manager override as the page and the CSV show it (the live list has StageChange rows)."""

    lead: LeadShown
    changed_by: str
    reason: str
    changed_at: datetime


_CLASSES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        DashboardFilters,
        Num,
        Rate,
        Share,
        SpeedRow,
        SourceRow,
        DisciplineRow,
        RuleFailures,
        Qualification,
        LeadShown,
        OverrideShown,
    )
}


def _enc(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return str(value)  # a Stage (a str enum) as its plain value
    if isinstance(value, datetime):
        return {"@": "datetime", "v": value.isoformat()}
    if isinstance(value, date):
        return {"@": "date", "v": value.isoformat()}
    if isinstance(value, StageChange):  # the live override list
        lead = value.lead
        shown = LeadShown(name=lead.name, company=lead.company, url=lead.get_absolute_url())
        by = str(value.changed_by) if value.changed_by else ""
        value = OverrideShown(lead=shown, changed_by=by, reason=value.reason, changed_at=value.changed_at)
    if dataclasses.is_dataclass(value) and _CLASSES.get(type(value).__name__) is type(value):
        return {"@": type(value).__name__, **{f.name: _enc(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, tuple):
        return {"@": "tuple", "v": [_enc(v) for v in value]}
    if isinstance(value, list):
        return [_enc(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"@": "dict", "v": {k: _enc(v) for k, v in value.items()}}
    raise TypeError(f"a dashboard snapshot cannot hold {type(value).__name__}")


def _dec(value: Any) -> Any:
    if isinstance(value, list):
        return [_dec(v) for v in value]
    if not isinstance(value, dict):
        return value
    tag = value["@"]
    if tag == "datetime":
        return datetime.fromisoformat(value["v"])
    if tag == "date":
        return date.fromisoformat(value["v"])
    if tag == "tuple":
        return tuple(_dec(v) for v in value["v"])
    if tag == "dict":
        return {k: _dec(v) for k, v in value["v"].items()}
    cls = _CLASSES[tag]
    return cls(**{k: _dec(v) for k, v in value.items() if k != "@"})


def figures_to_json(dash: Dashboard) -> dict[str, Any]:
    """The stored part of a Dashboard: everything but the live going-cold list."""
    return {f.name: _enc(getattr(dash, f.name)) for f in dataclasses.fields(dash) if f.name not in LIVE_FIELDS}


def figures_from_json(data: dict[str, Any], *, cooling_leads: list) -> Dashboard:
    """A Dashboard from stored figures and the live going-cold list."""
    return Dashboard(**{k: _dec(v) for k, v in data.items()}, cooling_leads=cooling_leads)


# --- Reading and writing ---------------------------------------------------------------------------


def _sees_all(user: User) -> bool:
    return user.has_perm("leads.view_all_leads")


def snapshot_key(*, user: User, filters: DashboardFilters, team_ids: list[int], knobs: tuple) -> str:
    """A hash of all the figures depend on besides the data, so a snapshot is only ever shown for
    the very scope it was computed over: admins share the all-teams scope; anyone else's scope
    is their own (their leads and the teams they manage, see selectors._scope_q)."""
    if _sees_all(user):
        scope: list[Any] = ["all"]
    else:
        level = "team" if user.has_perm("leads.view_team_leads") else "own"
        scope = ["user", user.pk, level, sorted(team_ids)]
    parts = {
        "scope": scope,
        "filters": filters.query_params(),
        "knobs": list(knobs),
        "zone": timezone.get_current_timezone_name(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def snapshot_compute(
    *, user: User, filters: DashboardFilters, teams: list[Team], knobs: tuple, key: str, now: datetime | None = None
) -> tuple[Dashboard, DashboardSnapshot]:
    """Compute the figures live (dashboard_build) and store them under `key`, replacing an older
    snapshot (one upsert, so two concurrent computations of one key both succeed)."""
    now = now or timezone.now()
    t0 = time.perf_counter()
    dash = dashboard_build(user=user, filters=filters, teams=teams, now=now, knobs=knobs)
    ms = round((time.perf_counter() - t0) * 1000)
    snap = DashboardSnapshot(
        key=key,
        user=None if _sees_all(user) else user,
        filters=filters.query_params(),
        figures=figures_to_json(dash),
        computed_at=now,
        compute_ms=ms,
    )
    DashboardSnapshot.objects.bulk_create(
        [snap],
        update_conflicts=True,
        unique_fields=["key"],
        update_fields=["user", "filters", "figures", "computed_at", "compute_ms"],
    )
    return dash, snap


def dashboard_for_page(
    *, user: User, filters: DashboardFilters, teams: list[Team], refresh: bool = False, now: datetime | None = None
) -> tuple[Dashboard, DashboardSnapshot]:
    """The dashboard as the page shows it, and the snapshot its figures come from.

    1. Read the follow-up policy (one query) and hash the scope, filters and policy (snapshot_key).
    2. Unless `refresh`: the snapshot under that key computed within snapshot_max_age() (one
       query by the unique key); with it, the going-cold list live (one query).
    3. Otherwise compute everything live and store it (dashboard_build + one upsert).
    """
    now = now or timezone.now()
    team_ids = [t.pk for t in teams]
    knobs = dashboard_policy_knobs()
    key = snapshot_key(user=user, filters=filters, team_ids=team_ids, knobs=knobs)
    if not refresh:
        snap = DashboardSnapshot.objects.filter(key=key, computed_at__gte=now - snapshot_max_age()).first()
        if snap is not None:
            _sla, cooling_days, cold_days, _hours = knobs
            cooling = dashboard_cooling(
                user=user,
                filters=filters,
                team_ids=team_ids,
                now=now,
                cooling_days=cooling_days,
                cold_days=cold_days,
                count=False,
            )
            return figures_from_json(snap.figures, cooling_leads=cooling.leads), snap
    return snapshot_compute(user=user, filters=filters, teams=teams, knobs=knobs, key=key, now=now)


def snapshots_refresh_defaults(*, now: datetime | None = None) -> list[DashboardSnapshot]:
    """Recompute the default view of everyone who opens the dashboard (the beat task).

    1. The people: active admins (all teams) and active managers of a team who may open it.
    2. Each one's default filters (the last 90 days in their zone) over their scope; admins share
       the all-teams scope, so it is computed once per zone.
    3. Delete snapshots nobody refreshed for SNAPSHOT_KEEP (filter sets opened once).
    Returns the snapshots written.
    """
    from .services import _zone

    now = now or timezone.now()
    knobs = dashboard_policy_knobs()
    admins = User.objects.with_perm(
        "leads.view_all_leads", is_active=True, backend="django.contrib.auth.backends.ModelBackend"
    )
    managers = User.objects.filter(is_active=True, managed_teams__isnull=False).distinct()
    written: dict[str, DashboardSnapshot] = {}
    for user in [*admins.order_by("pk"), *managers.order_by("pk")]:
        if not user.has_perm("dashboard.view_dashboard"):
            continue
        with timezone.override(_zone(user)):
            filters = DashboardFilters.default(today=timezone.localdate(now))
            teams = list(dashboard_teams(user=user))
            key = snapshot_key(user=user, filters=filters, team_ids=[t.pk for t in teams], knobs=knobs)
            if key in written:
                continue
            _dash, written[key] = snapshot_compute(
                user=user, filters=filters, teams=teams, knobs=knobs, key=key, now=now
            )
    DashboardSnapshot.objects.filter(computed_at__lt=now - SNAPSHOT_KEEP).delete()
    return list(written.values())
