"""Time the manager's dashboard on a big PostgreSQL database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/leadflow_bench \\
        python bench/dashboard.py [--seed 100000] [--runs 15]

Standalone: given an already-seeded database it only measures. `--seed N` first fills an empty
(migrated) database quickly with N leads plus their stage history, first-contact activities and
assignments, in 20 teams of 5 reps over two years, straight in SQL (generate_series); the
shared bench harness (issue 7) seeds richer data and calls this with no --seed.

It requests the dashboard with the test client (the whole Django stack: middleware, the
queries, template rendering) as a manager (default filters: their team, the last 90 days)
and as an admin (every team), and reports median and p95 server time and the query count.
The JSON lands in bench/results/dashboard-<leads>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import zoneinfo
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadflow.settings")

TEAMS = 20
REPS_PER_TEAM = 5
SOURCES = ["Website form", "Referral", "Trade show", "Partner list", "Webinar", "Cold outreach"]
REASONS = [
    "No budget this year",
    "Student project, not a business",
    "Needs an on-premise version",
    "Too small for us",
]


def seed(n: int) -> None:
    """Fill an empty database with n leads and their history (PostgreSQL only)."""
    from django.contrib.auth.models import Group
    from django.db import connection, transaction

    from accounts import roles
    from accounts.models import Membership, Team, User
    from leads.models import Lead, LeadSource

    if Lead.objects.exists():
        raise SystemExit("the database already has leads: --seed wants an empty, migrated one")
    t0 = time.perf_counter()
    with transaction.atomic():
        rep_group, mgr_group, admin_group = (Group.objects.get(name=r) for r in (roles.REP, roles.MANAGER, roles.ADMIN))
        admin = User.objects.create_user("bench-admin", password=None, is_staff=True)
        admin.groups.add(admin_group)
        rows = []
        for t in range(TEAMS):
            manager = User.objects.create_user(f"bench-manager-{t}", password=None, email=f"m{t}@bench.example")
            manager.groups.add(mgr_group)
            team = Team.objects.create(name=f"Bench team {t}", manager=manager)
            for k in range(REPS_PER_TEAM):
                rep = User.objects.create_user(f"bench-rep-{t}-{k}", password=None)
                rep.groups.add(rep_group)
                Membership.objects.create(team=team, user=rep)
                rows.append((t, k, team.pk, rep.pk))
        source_ids = [LeadSource.objects.get_or_create(name=name)[0].pk for name in SOURCES]
        with connection.cursor() as c:
            c.execute("CREATE TEMP TABLE bench_reps (t int, k int, team_id bigint, user_id bigint) ON COMMIT DROP")
            c.executemany("INSERT INTO bench_reps VALUES (%s, %s, %s, %s)", rows)
            c.execute("CREATE TEMP TABLE bench_sources (s int, source_id bigint) ON COMMIT DROP")
            c.executemany("INSERT INTO bench_sources VALUES (%s, %s)", list(enumerate(source_ids)))
            # One row per lead with its plan: received over two years, a response time, a fate.
            c.execute(
                """
                CREATE TEMP TABLE bench_plan ON COMMIT DROP AS
                SELECT i,
                       now() - ((i::bigint * 7919) %% (730 * 1440)) * interval '1 minute' AS received_at,
                       CASE WHEN (i * 31) %% 100 < 25 THEN interval '2 minutes'
                            WHEN (i * 31) %% 100 < 50 THEN interval '30 minutes'
                            WHEN (i * 31) %% 100 < 70 THEN interval '5 hours'
                            WHEN (i * 31) %% 100 < 85 THEN interval '2 days' END AS response,
                       CASE WHEN (i * 17) %% 100 < 35 THEN 'lead' WHEN (i * 17) %% 100 < 50 THEN 'prospect'
                            WHEN (i * 17) %% 100 < 60 THEN 'customer' WHEN (i * 17) %% 100 < 72 THEN 'nurture'
                            WHEN (i * 17) %% 100 < 90 THEN 'disqualified' ELSE 'lost' END AS stage,
                       i %% %s AS t, (i / %s) %% %s AS k, i %% 6 AS s
                FROM generate_series(1, %s) AS i
                """,
                [TEAMS, TEAMS, REPS_PER_TEAM, n],
            )
            c.execute(
                """
                INSERT INTO leads_lead (name, email, phone, company, title, source_id, referred_by, team_id, owner_id,
                    stage, stage_changed_at, received_at, first_contacted_at, last_touched_at, notes,
                    created_at, updated_at)
                SELECT 'Bench lead ' || p.i, 'bench' || p.i || '@example.com', '', 'Bench Co', '', s.source_id, '',
                       r.team_id, r.user_id, p.stage, p.received_at, p.received_at,
                       LEAST(p.received_at + p.response, now()),
                       LEAST(p.received_at + p.response + (p.i % 20) * interval '1 day', now()),
                       '', now(), now()
                FROM bench_plan p JOIN bench_reps r ON r.t = p.t AND r.k = p.k JOIN bench_sources s ON s.s = p.s
                ORDER BY p.i
                """
            )
            c.execute(
                "CREATE TEMP TABLE bench_ids ON COMMIT DROP AS "
                "SELECT l.id, l.stage, l.received_at, l.owner_id, (substr(l.name, 12))::int AS i FROM leads_lead l"
            )
            # History: created, then the moves that lead to the final stage.
            c.execute(
                """
                INSERT INTO leads_stagechange (lead_id, from_stage, to_stage, changed_at, reason, is_override, changed_by_id)
                SELECT id, '', 'lead', received_at, '', false, owner_id FROM bench_ids
                UNION ALL
                SELECT id, 'lead', 'prospect', LEAST(received_at + interval '3 days', now()), 'override', true, owner_id
                  FROM bench_ids WHERE stage IN ('prospect', 'customer', 'lost')
                UNION ALL
                SELECT id, 'prospect', stage, LEAST(received_at + interval '10 days', now()) + interval '1 second',
                       CASE WHEN stage = 'lost' THEN 'Went with a competitor' ELSE '' END, false, owner_id
                  FROM bench_ids WHERE stage IN ('customer', 'lost')
                UNION ALL
                SELECT id, 'lead', stage, LEAST(received_at + interval '1 day', now()) + interval '1 second',
                       CASE WHEN stage = 'disqualified' THEN (%s::text[])[1 + i %% 4] ELSE 'Not now' END, false, owner_id
                  FROM bench_ids WHERE stage IN ('disqualified', 'nurture')
                """,
                [REASONS],
            )
            c.execute(
                """
                INSERT INTO leads_activity (lead_id, kind, outcome, occurred_at, created_by_id, created_at)
                SELECT id, 'call', 'Spoke', l.first_contacted_at, l.owner_id, now()
                FROM leads_lead l WHERE l.first_contacted_at IS NOT NULL
                """
            )
            c.execute(
                """
                INSERT INTO leads_assignment (lead_id, from_owner_id, to_owner_id, assigned_by_id, assigned_at, reason)
                SELECT id, NULL, owner_id, owner_id, received_at, 'created' FROM bench_ids
                """
            )
    with connection.cursor() as c:
        for table in ("leads_lead", "leads_stagechange", "leads_activity", "leads_assignment"):
            c.execute(f"ANALYZE {table}")
    print(f"seeded {n} leads in {time.perf_counter() - t0:.1f} s", flush=True)


def seed_extras() -> None:
    """Add follow-ups, discovery calls and helpful closes to a seeded database (PostgreSQL only).

    Per lead, three cadence follow-ups (day 1, 3 and 7; the day-3 one of every tenth lead is a
    date agreed with the lead): past ones are done (a third of them a day or more late), skipped
    or still pending (overdue); future ones pending. Closed leads' pending rows are cancelled.
    Every lead that left stage "lead" for prospect, customer, lost or disqualified had a
    discovery call on day 2 (passing, or failing two rules); each disqualified lead has a
    helpful close, two thirds of them sent. Runs once: skipped when follow-ups exist.
    """
    from django.db import connection, transaction

    from followups.models import FollowUp
    from qualification.models import DisqualificationReason

    if FollowUp.objects.exists():
        return
    t0 = time.perf_counter()
    reason = DisqualificationReason.objects.order_by("pk").first()
    passing = json.dumps(
        {
            "passed": True,
            "score": 3,
            "threshold": 3,
            "results": [
                {"kind": "problem_confirmed", "label": "Problem confirmed", "passed": True},
                {"kind": "budget_known", "label": "Budget known", "passed": True},
            ],
        }
    )
    failing = json.dumps(
        {
            "passed": False,
            "score": 0,
            "threshold": 3,
            "results": [
                {"kind": "problem_confirmed", "label": "Problem confirmed", "passed": False},
                {"kind": "budget_known", "label": "Budget known", "passed": False},
            ],
        }
    )
    with transaction.atomic(), connection.cursor() as c:
        c.execute(
            """
            INSERT INTO followups_followup (lead_id, owner_id, due_at, kind, instruction, state, agreed_with_lead,
                recycles_lead, created_at, completed_at, attempts, last_error)
            SELECT l.id, l.owner_id, d.due, 'call', 'Call back', d.state, (d.day = 3 AND l.id % 10 = 0), false,
                   l.received_at, CASE WHEN d.state = 'done' THEN d.due + (l.id % 3) * interval '1 day'
                                       WHEN d.state IN ('skipped', 'cancelled') THEN d.due END, 0, ''
            FROM leads_lead l
            CROSS JOIN LATERAL (
                SELECT x.day, l.received_at + x.day * interval '1 day' AS due,
                       CASE WHEN l.received_at + x.day * interval '1 day' > now() - interval '1 day'
                                 THEN CASE WHEN l.stage IN ('lead', 'prospect') THEN 'pending' ELSE 'cancelled' END
                            WHEN (l.id + x.day) % 9 = 0 THEN 'skipped'
                            WHEN (l.id + x.day) % 13 = 0 AND l.stage IN ('lead', 'prospect') THEN 'pending'
                            ELSE 'done' END AS state
                FROM (VALUES (1), (3), (7)) AS x(day)
            ) d
            """
        )
        c.execute(
            """
            UPDATE leads_lead l SET next_followup_at = f.due
            FROM (SELECT lead_id, MIN(due_at) AS due FROM followups_followup WHERE state = 'pending'
                  GROUP BY lead_id) f
            WHERE f.lead_id = l.id
            """
        )
        c.execute(
            """
            INSERT INTO qualification_discoverycall (lead_id, held_at, held_by_id, changes_since_last, problem,
                budget_status, budget_currency, diy_alternative, decision_maker, timeline_status, next_step, notes,
                evaluation, created_at)
            SELECT l.id, LEAST(l.received_at + interval '2 days', now()), l.owner_id, '', 'Bench problem',
                   'unknown', '', '', '', 'unknown', '', '',
                   CASE WHEN l.stage = 'disqualified' OR l.id %% 5 = 0 THEN %s::jsonb ELSE %s::jsonb END,
                   now()
            FROM leads_lead l WHERE l.stage IN ('prospect', 'customer', 'lost', 'disqualified')
            """,
            [failing, passing],
        )
        if reason is not None:
            c.execute(
                """
                INSERT INTO qualification_helpfulclose (lead_id, owner_id, reason_id, body, created_at, sent_at)
                SELECT l.id, l.owner_id, %s, 'Try this', l.stage_changed_at,
                       CASE WHEN l.id %% 3 = 0 THEN NULL ELSE l.stage_changed_at + interval '1 day' END
                FROM leads_lead l WHERE l.stage = 'disqualified'
                """,
                [reason.pk],
            )
    with connection.cursor() as c:
        for table in ("leads_lead", "followups_followup", "qualification_discoverycall", "qualification_helpfulclose"):
            c.execute(f"ANALYZE {table}")
    print(f"seeded follow-ups, calls and helpful closes in {time.perf_counter() - t0:.1f} s", flush=True)


def measure(runs: int) -> dict:
    from django.db import connection
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from accounts.models import User
    from dashboard.selectors import DashboardFilters, dashboard_build
    from leads.models import Activity, Lead, StageChange

    counts = {
        "leads": Lead.objects.count(),
        "stage_changes": StageChange.objects.count(),
        "activities": Activity.objects.count(),
    }
    try:
        from followups.models import FollowUp
        from qualification.models import DiscoveryCall

        counts["followups"] = FollowUp.objects.count()
        counts["discovery_calls"] = DiscoveryCall.objects.count()
    except ImportError:
        pass
    manager = User.objects.filter(managed_teams__isnull=False).order_by("pk").first()
    admin = User.objects.filter(is_staff=True, groups__name="admin").order_by("pk").first()
    url = reverse("dashboard:index")
    results = {"counts": counts, "cases": {}}
    cases = (("manager_default", manager), ("admin_all_teams", admin))
    if os.environ.get("BENCH_ONLY"):
        cases = tuple(c for c in cases if c[0] == os.environ["BENCH_ONLY"])
    for label, user in cases:
        if user is None:
            continue
        client = Client()
        client.force_login(user)
        client.get(url)  # warm: connection, caches, templates
        queries: list[tuple[float, str]] = []

        def timed(execute, sql, params, many, context, queries=queries):
            t0 = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                queries.append(((time.perf_counter() - t0) * 1000, sql))

        # Not CaptureQueriesContext: Django clears connection.queries when a request starts.
        with connection.execute_wrapper(timed):
            response = client.get(url)
        assert response.status_code == 200, response.status_code
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            client.get(url)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        with timezone.override(zoneinfo.ZoneInfo(user.time_zone)):
            dash = dashboard_build(user=user, filters=DashboardFilters.default(today=timezone.localdate()))
        results["cases"][label] = {
            "user": user.username,
            "leads_in_view": dash.total.n,
            "queries": len(queries),
            "slowest_queries_ms": [
                [round(ms, 1), sql[:160]] for ms, sql in sorted(queries, key=lambda q: q[0], reverse=True)[:4]
            ],
            "median_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))], 1),
            "runs": runs,
        }
        print(label, json.dumps(results["cases"][label]), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0, help="first seed this many leads into an empty database")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--seed-extras", action="store_true", help="add follow-ups, calls and helpful closes to a seeded database"
    )
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("set DATABASE_URL=postgres://… (the benchmark is about PostgreSQL)")

    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    if args.seed:
        seed(args.seed)
    if args.seed or args.seed_extras:
        seed_extras()
    results = measure(args.runs)
    results.update(
        {
            "benchmark": "dashboard",
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "target_ms": 300,
        }
    )
    out = ROOT / "bench" / "results" / f"dashboard-{results['counts']['leads']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()


def run(db_url: str, n_leads: int) -> dict:
    """`make bench` part (bench/run.py): the dashboard's slowest statements, on the seeded data set.

    Its whole-page times are in the page table (bench/pages.py); this adds where they go.
    """
    from bench import report
    from bench.run import setup_django

    setup_django(db_url)
    from django.conf import settings

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    results = measure(int(os.environ.get("BENCH_DASHBOARD_RUNS") or 15))
    rows, checks = [], []
    for label, case in results["cases"].items():
        ok = case["p95_ms"] <= 300
        slowest = "; ".join(f"{ms} ms `{sql[:70]}…`" for ms, sql in case["slowest_queries_ms"][:3])
        rows.append(
            [
                label,
                f"{case['leads_in_view']:,}",
                case["median_ms"],
                f"{case['p95_ms']} {report.mark(ok)}",
                case["queries"],
                slowest,
            ]
        )
    return {
        "title": "Dashboard, whole page: where the time goes",
        "markdown": report.md_table(
            ["case", "leads in view", "p50 ms", "p95 ms", "queries", "slowest statements"], rows
        ),
        "checks": checks,  # the targets are checked in the page table
        "data": results,
    }
