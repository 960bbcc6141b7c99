"""Time each page in-process with Django's test Client against the benchmark database.

For each page: N requests (BENCH_REQUESTS, default 100) after a warm-up, varying the user, the lead,
the filter or the search term, give the median and 95th percentile server time. A second pass over
the first requests captures their SQL (`CaptureQueriesContext`): the number of queries, and the
*floor* — the same statements re-run directly on a cursor, so page time / SQL time shows what
Django, the templates and our own code add. The slowest statement of each page is EXPLAINed
(ANALYZE, BUFFERS) into bench/data/plans-<n>.md (not committed).

Adding a page (other issues): add a `PageSpec` to `PAGES` with a `build` function returning the
requests to make, or fill in one of the placeholders below.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import report

TARGET_P95 = 0.050
TARGET_QUERIES = 10
TARGET_RATIO = 2.0
WARMUP = 5
CAPTURED = 40  # requests whose SQL is captured and replayed
REPLAYS = 3  # replays per captured request; the median is its SQL time


@dataclass(frozen=True)
class Request:
    user_id: int
    path: str
    params: dict = field(default_factory=dict)


@dataclass
class Fixtures:
    """What the requests are built from, read from the seeded data set."""

    n_leads: int
    admin: int
    managers: list[int]
    reps: list[int]
    sources: list[int]
    leads: list[tuple[int, int, str, str, str]]  # (id, owner_id, name, company, email), owned, sampled
    rng: random.Random

    def leads_of(self, owner_id: int) -> list[tuple[int, int, str, str, str]]:
        return [lead for lead in self.leads if lead[1] == owner_id]


@dataclass(frozen=True)
class PageSpec:
    key: str
    title: str  # the name for the page
    persona: str
    build: Callable[[Fixtures, int], list[Request]] | None
    pending: str = ""  # why there is nothing to measure yet
    # The targets: p95 server time, and (for the "instant" pages) a fixed query count
    # of at most 10 and page time / SQL time of at most 2. None: no target for that measure.
    target_p95_ms: float = TARGET_P95 * 1000
    max_queries: int | None = TARGET_QUERIES
    max_ratio: float | None = TARGET_RATIO
    max_requests: int | None = None  # fewer requests for slow pages
    # Run once before the page is measured (untimed); returns what to report about it.
    setup: Callable[[], dict] | None = None
    # Run before each request, untimed (e.g. drop the dashboard snapshots: measure the live compute).
    before_each: Callable[[], None] | None = None


STAGES = ["lead", "prospect", "customer", "nurture", "disqualified", "lost", "open", "all"]


def search_term(rng: random.Random, lead: tuple[int, int, str, str, str]) -> str:
    """What a person types to find a lead: a surname, a full name, a company or an email start."""
    _, _, name, company, email = lead
    x = rng.random()
    if x < 0.4 or (x >= 0.6 and not company and not email):
        return name.split()[-1]
    if x < 0.6:
        return name
    if x < 0.8 and company:
        return " ".join(company.split()[:2])
    if email:
        return email.split("@")[0].split(".")[0] + "." + email.split("@")[0].split(".")[1][:4]
    return name.split()[-1]


def _queue_rep(fx: Fixtures, n: int) -> list[Request]:
    # Mostly the first page of the default (open) queue, sometimes a stage tab or the next page.
    extras = [{}, {}, {}, {"stage": "lead"}, {"page": "2"}]
    return [Request(fx.reps[i % len(fx.reps)], "/leads/", extras[i % len(extras)]) for i in range(n)]


def _queue_manager(fx: Fixtures, n: int) -> list[Request]:
    return [Request(fx.managers[i % len(fx.managers)], "/leads/") for i in range(n)]


def _filters(i: int, fx: Fixtures) -> dict:
    return {"source": fx.sources[(i * 7) % len(fx.sources)], "stage": STAGES[i % len(STAGES)]}


def _list_manager(fx: Fixtures, n: int) -> list[Request]:
    return [Request(fx.managers[i % len(fx.managers)], "/leads/", _filters(i, fx)) for i in range(n)]


def _list_admin(fx: Fixtures, n: int) -> list[Request]:
    return [Request(fx.admin, "/leads/", _filters(i, fx)) for i in range(n)]


def _search_rep(fx: Fixtures, n: int) -> list[Request]:
    out = []
    for i in range(n):
        rep = fx.reps[i % len(fx.reps)]
        own = fx.leads_of(rep) or fx.leads
        out.append(Request(rep, "/leads/", {"q": search_term(fx.rng, own[fx.rng.randrange(len(own))])}))
    return out


def _search_admin(fx: Fixtures, n: int) -> list[Request]:
    return [
        Request(fx.admin, "/leads/", {"q": search_term(fx.rng, fx.leads[fx.rng.randrange(len(fx.leads))])})
        for _ in range(n)
    ]


def _detail(fx: Fixtures, n: int) -> list[Request]:
    return [Request(lead[1], f"/leads/{lead[0]}/") for lead in (fx.leads[i % len(fx.leads)] for i in range(n))]


DASHBOARD_TARGETS = {"target_p95_ms": 300.0, "max_queries": None, "max_ratio": None, "max_requests": 30}


def _call_page(fx: Fixtures, n: int) -> list[Request]:
    # The new-call form of a lead: with the previous call's recap for the third that have one.
    return [
        Request(lead[1], f"/leads/{lead[0]}/calls/new/")
        for lead in (fx.leads[(i * 3) % len(fx.leads)] for i in range(n))
    ]


def _api_list(fx: Fixtures, n: int) -> list[Request]:
    # The API authenticates a session as well as a token: the same user, the same scoping.
    return [Request(fx.reps[i % len(fx.reps)], "/api/v1/leads/") for i in range(n)]


def _dashboard_manager(fx: Fixtures, n: int) -> list[Request]:
    # Default filters: the manager's team, the last 90 days.
    return [Request(fx.managers[i % len(fx.managers)], "/dashboard/") for i in range(n)]


def _dashboard_admin(fx: Fixtures, n: int) -> list[Request]:
    return [Request(fx.admin, "/dashboard/") for _ in range(n)]


def _dashboard_refresh() -> dict:
    """The morning: the beat task has refreshed every manager's default view (and the admins')."""
    from dashboard.snapshots import snapshots_refresh_defaults

    t0 = time.perf_counter()
    written = snapshots_refresh_defaults()
    total_ms = (time.perf_counter() - t0) * 1000
    return {
        "refresh_snapshots": len(written),
        "refresh_total_ms": round(total_ms, 1),
        "refresh_max_compute_ms": max((s.compute_ms for s in written), default=0),
    }


def _drop_dashboard_snapshots() -> None:
    from dashboard.models import DashboardSnapshot

    DashboardSnapshot.objects.all().delete()


def _dashboard_live(fx: Fixtures, n: int) -> list[Request]:
    # A filter set no snapshot covers (the last 60 days, one source), with the snapshots dropped
    # before each request: the figures computed live, as on a first view or "Refresh now".
    return [
        Request(fx.managers[i % len(fx.managers)], "/dashboard/", {"source": fx.sources[i % len(fx.sources)]})
        for i in range(n)
    ]


def _dashboard_live_admin(fx: Fixtures, n: int) -> list[Request]:
    return [Request(fx.admin, "/dashboard/", {"source": fx.sources[i % len(fx.sources)]}) for i in range(n)]


PAGES: list[PageSpec] = [
    PageSpec("queue_rep", "Rep work queue", "rep", _queue_rep),
    PageSpec("queue_manager", "Work queue, team (manager)", "manager", _queue_manager),
    PageSpec("list_manager", "Lead list with a filter (source + stage)", "manager", _list_manager),
    PageSpec("list_admin", "Lead list with a filter (source + stage)", "admin", _list_admin),
    PageSpec("search_rep", "Lead search", "rep", _search_rep),
    PageSpec("search_admin", "Lead search", "admin", _search_admin),
    PageSpec("detail", "Lead detail", "owner", _detail),
    PageSpec("call_page", "Discovery call page", "owner", _call_page),
    PageSpec(
        "dashboard_manager",
        "Dashboard, whole page (snapshot refreshed by the beat)",
        "manager",
        _dashboard_manager,
        setup=_dashboard_refresh,
        **DASHBOARD_TARGETS,
    ),
    PageSpec(
        "dashboard_admin",
        "Dashboard, whole page (snapshot refreshed by the beat)",
        "admin",
        _dashboard_admin,
        setup=_dashboard_refresh,
        **DASHBOARD_TARGETS,
    ),
    PageSpec(
        "dashboard_live_manager",
        "Dashboard, computed live (filter no snapshot covers)",
        "manager",
        _dashboard_live,
        before_each=_drop_dashboard_snapshots,
        **{**DASHBOARD_TARGETS, "max_requests": 15},
    ),
    PageSpec(
        "dashboard_live_admin",
        "Dashboard, computed live (filter no snapshot covers)",
        "admin",
        _dashboard_live_admin,
        before_each=_drop_dashboard_snapshots,
        **{**DASHBOARD_TARGETS, "max_requests": 10},
    ),
    PageSpec("api_list", "API lead list (page 1, JSON)", "rep", _api_list),
]


def load_fixtures(n_leads: int) -> Fixtures:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT id, username FROM accounts_user WHERE username LIKE 'bench-%%' ORDER BY id")
        users = cur.fetchall()
        cur.execute("SELECT id FROM leads_leadsource ORDER BY id")
        sources = [r[0] for r in cur.fetchall()]
        rng = random.Random(f"pages:{n_leads}")
        ids = rng.sample(range(1, n_leads + 1), min(n_leads, 2000))
        cur.execute(
            "SELECT id, owner_id, name, company, email FROM leads_lead WHERE id = ANY(%s) AND owner_id IS NOT NULL",
            [ids],
        )
        leads = sorted(cur.fetchall())
    rng.shuffle(leads)
    admin = next(uid for uid, name in users if name == "bench-admin")
    return Fixtures(
        n_leads=n_leads,
        admin=admin,
        managers=[uid for uid, name in users if name.startswith("bench-manager-")],
        reps=[uid for uid, name in users if name.startswith("bench-rep-")],
        sources=sources,
        leads=leads,
        rng=rng,
    )


def _replay(statements: list[str]) -> float:
    """Run the captured SQL again, straight on the driver's cursor; seconds for all of it."""
    from django.db import connection

    raw = connection.connection
    t0 = time.perf_counter()
    with raw.cursor() as cur:
        for sql in statements:
            cur.execute(sql)
            if cur.description is not None:
                cur.fetchall()
    return time.perf_counter() - t0


def _explain(sql: str) -> str:
    from django.db import connection

    with connection.connection.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        return "\n".join(r[0] for r in cur.fetchall())


def measure_page(spec: PageSpec, fx: Fixtures, n_requests: int, clients: dict) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    requests = spec.build(fx, min(n_requests, spec.max_requests or n_requests))
    setup = spec.setup() if spec.setup else {}

    def get(req: Request, prepared: bool = False):
        if spec.before_each and not prepared:
            spec.before_each()
        response = clients[req.user_id].get(req.path, req.params)
        if response.status_code != 200:
            raise AssertionError(f"{spec.key}: {req} answered {response.status_code}")
        return response

    for req in requests[:WARMUP]:
        get(req)
    times, cpu = [], []
    for req in requests:
        if spec.before_each:
            spec.before_each()
        c0, t0 = time.process_time(), time.perf_counter()
        get(req, prepared=True)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)

    counts, sql_times, slowest = [], [], (0.0, "")
    # Slow pages (fewer requests) capture a third of theirs: each capture replays its SQL 4 times.
    captured = CAPTURED if spec.max_requests is None else max(3, len(requests) // 3)
    for req in requests[:captured]:
        if spec.before_each:
            spec.before_each()
        with CaptureQueriesContext(connection) as captured:
            get(req, prepared=True)
        statements = [q["sql"] for q in captured.captured_queries]
        counts.append(len(statements))
        # Reads only (a page's writes, if any, are not its floor); a UNION starts with "(SELECT".
        selects = [s for s in statements if s.lstrip(" (").upper().startswith(("SELECT", "WITH"))]
        replays = sorted(_replay(selects) for _ in range(REPLAYS))
        sql_times.append(replays[len(replays) // 2])
        for sql in selects:
            t = _replay([sql])
            if t > slowest[0]:
                slowest = (t, sql)

    p50, p95 = report.median(times), report.percentile(times, 95)
    sql50, sql95 = report.median(sql_times), report.percentile(sql_times, 95)
    return {
        "key": spec.key,
        "title": spec.title,
        "persona": spec.persona,
        "requests": len(times),
        "p50_ms": round(p50 * 1000, 2),
        "p95_ms": round(p95 * 1000, 2),
        "max_ms": round(max(times) * 1000, 2),
        # CPU time of this (Django) process during the request: Python, templates, the driver;
        # not the database's. Unlike wall time it barely moves when other jobs load the machine.
        "cpu_p50_ms": round(report.median(cpu) * 1000, 2),
        "queries_min": min(counts),
        "queries_max": max(counts),
        "sql_p50_ms": round(sql50 * 1000, 2),
        "sql_p95_ms": round(sql95 * 1000, 2),
        "ratio_p50": round(p50 / sql50, 2) if sql50 else None,
        "slowest_sql_ms": round(slowest[0] * 1000, 2),
        "slowest_sql": slowest[1],
        **setup,
    }


def run(db_url: str, n_leads: int) -> dict:
    from bench.run import DATA_DIR, setup_django

    setup_django(db_url)
    from django.conf import settings
    from django.test import Client

    if settings.DEBUG:
        raise RuntimeError("measure with DEBUG off")
    n_requests = int(os.environ.get("BENCH_REQUESTS") or 100)
    fx = load_fixtures(n_leads)
    clients: dict[int, Client] = {}
    from accounts.models import User

    handler = None
    for user in User.objects.filter(username__startswith="bench-"):
        client = Client()
        client.force_login(user)
        # One request handler for all clients, as one server process has: each Client would
        # otherwise build the middleware chain (WhiteNoise scans the static files) on its first
        # request, inside the timed section.
        handler = handler or client.handler
        client.handler = handler
        clients[user.pk] = client

    results, skipped, plans = [], [], []
    # BENCH_PAGE_KEYS=dashboard_manager,dashboard_live_manager: measure only these pages.
    only = [k for k in os.environ.get("BENCH_PAGE_KEYS", "").split(",") if k]
    for spec in PAGES:
        if only and spec.key not in only:
            continue
        if spec.build is None:
            skipped.append({"key": spec.key, "title": spec.title, "skipped": spec.pending})
            print(f"  {spec.title}: skipped ({spec.pending})", flush=True)
            continue
        r = measure_page(spec, fx, n_requests, clients)
        results.append(r)
        print(
            f"  {r['title']} ({r['persona']}): p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms,"
            f" {r['queries_min']}–{r['queries_max']} queries, SQL p50 {r['sql_p50_ms']} ms",
            flush=True,
        )
        plans.append(
            f"## {r['title']} ({r['persona']}) — slowest statement {r['slowest_sql_ms']} ms\n\n```sql\n"
            f"{r['slowest_sql']}\n```\n\n```\n{_explain(r['slowest_sql'])}\n```\n"
        )

    DATA_DIR.mkdir(exist_ok=True)
    (DATA_DIR / f"plans-{n_leads}.md").write_text(f"# Query plans at {n_leads:,} leads\n\n" + "\n".join(plans))
    out_dir = Path(__file__).resolve().parent / "results"
    out_dir.mkdir(exist_ok=True)
    slim = [{k: v for k, v in r.items() if k != "slowest_sql"} for r in results]
    (out_dir / f"pages-{n_leads}.json").write_text(
        json.dumps({"n_leads": n_leads, "pages": slim, "skipped": skipped}, indent=1)
    )

    rows, checks = [], []
    specs = {spec.key: spec for spec in PAGES}
    for r in results:
        spec = specs[r["key"]]
        ok_p95 = r["p95_ms"] <= spec.target_p95_ms
        ok_q = None if spec.max_queries is None else r["queries_max"] <= spec.max_queries
        ok_ratio = None if spec.max_ratio is None else (r["ratio_p50"] is not None and r["ratio_p50"] <= spec.max_ratio)
        queries = (
            str(r["queries_max"]) if r["queries_min"] == r["queries_max"] else f"{r['queries_min']}–{r['queries_max']}"
        )
        rows.append(
            [
                r["title"],
                r["persona"],
                f"{r['p50_ms']:.1f}",
                f"{r['p95_ms']:.1f} {report.mark(ok_p95)}",
                f"{r['cpu_p50_ms']:.1f}",
                f"{queries} {report.mark(ok_q) if ok_q is not None else ''}".strip(),
                f"{r['sql_p50_ms']:.1f}",
                f"{r['sql_p95_ms']:.1f}",
                f"{r['ratio_p50']} {report.mark(ok_ratio) if ok_ratio is not None else ''}".strip(),
            ]
        )
        name = f"{r['title']} ({r['persona']})"
        checks.append(report.check(f"{name}: p95", r["p95_ms"], f"≤ {spec.target_p95_ms:.0f} ms", ok_p95, "ms"))
        if ok_q is not None:
            checks.append(report.check(f"{name}: SQL queries", r["queries_max"], f"≤ {spec.max_queries}, fixed", ok_q))
        if ok_ratio is not None:
            checks.append(report.check(f"{name}: page / SQL time", r["ratio_p50"], f"≤ {spec.max_ratio:g}", ok_ratio))
    for s in skipped:
        rows.append([s["title"], "–", "–", "–", "–", "–", "–", "–", f"skipped: {s['skipped']}"])
    table = report.md_table(
        ["page", "as", "p50 ms", "p95 ms", "CPU p50 ms", "queries", "SQL p50 ms", "SQL p95 ms", "page/SQL (p50)"], rows
    )
    notes = (
        f"\n\n{n_requests} requests per page after {WARMUP} warm-up ones, in-process (Django test Client, DEBUG off),"
        f" varying user, lead, filter and search term. SQL: the queries of the first {CAPTURED} requests re-run"
        f" directly on a cursor (median of {REPLAYS}). CPU: this process's CPU time per request (Python,"
        " templates, driver), which other jobs on the machine barely change, unlike wall time."
    )
    for r in results:
        if "refresh_total_ms" in r:
            notes += (
                f"\n\n{r['title']} ({r['persona']}): before timing, the beat task's refresh wrote"
                f" {r['refresh_snapshots']} snapshots (every manager's default view and the admins') in"
                f" {r['refresh_total_ms']:.0f} ms, the slowest one {r['refresh_max_compute_ms']} ms."
            )
    notes += (
        "\n\nDashboard, computed live: a filter no snapshot covers (one source), the snapshots dropped"
        " before each request (untimed), so every request runs the aggregates and stores its snapshot."
    )
    return {
        "title": "Pages: server time, SQL queries, SQL floor",
        "markdown": table + notes,
        "checks": checks,
        "data": {"pages": slim, "skipped": skipped, "requests": n_requests},
    }
