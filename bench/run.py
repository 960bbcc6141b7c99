"""`make bench`: make sure the benchmark database exists, is migrated and seeded, run every part
of the benchmark that exists, and write `bench/results/` (markdown + JSON), printing the table.

Environment: BENCH_DATABASE_URL (created if missing); without it, a PostgreSQL DATABASE_URL's
server with the database `<its name>_bench` (or the name itself if it has "bench" in it); without
either, postgres://postgres@127.0.0.1:5432/leadflow_bench. PostgreSQL is required. BENCH_LEADS (default 100000), BENCH_PARTS (comma-separated subset, default all),
BENCH_REQUESTS (timed requests per page, default 100).

Parts. Each is a module `bench/<name>.py` with `run(db_url: str, n_leads: int) -> dict` returning
    {"title": str,          # section heading
     "markdown": str,       # the section's body (a table, notes)
     "checks": [bench.report.check(...)],   # one line per target, for the summary
     "data": {...}}         # raw figures, written to JSON
A part whose module does not exist yet is listed as skipped with the issue that brings it. A part
that writes (intake, dispatcher, CSV import) must leave the seeded data set as it found it: delete
what it added, or work on a copy (`CREATE DATABASE leadflow_bench_x TEMPLATE leadflow_bench` is a
fast file copy; drop it afterwards).
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from bench import report, seed

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Part:
    name: str  # module bench/<name>.py
    title: str
    pending: str  # who brings it, shown while the module does not exist


PARTS = [
    Part("pages", "Pages: server time, SQL queries, SQL floor", "the benchmark issue"),
    Part("dashboard", "Dashboard, whole page", "the dashboard issue (bench/dashboard.py)"),
    Part("intake", "Web-to-lead intake over HTTP", "the intake issue (bench/intake.py: gunicorn + a load tool)"),
    Part("dispatcher", "Follow-up dispatcher, one worker", "the follow-ups issue (bench/dispatcher.py)"),
    Part("csv_io", "CSV import and export", "the intake issue (bench/csv_io.py)"),
]


def ensure_database(db_url: str) -> bool:
    """Create the database if it does not exist. Returns True when it was created."""
    import psycopg2
    from psycopg2 import sql

    name = seed.database_name(db_url)
    admin_url = db_url.rsplit("/", 1)[0] + "/postgres"
    try:
        conn = psycopg2.connect(admin_url, connect_timeout=5)
    except psycopg2.OperationalError as e:
        raise SystemExit(
            f"PostgreSQL is not reachable at {admin_url}: {e}\n"
            "Start it (Debian: pg_ctlcluster --skip-systemctl-redirect 15 main start) or set BENCH_DATABASE_URL."
        ) from None
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cur.fetchone():
                return False
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return True
    finally:
        conn.close()


def setup_django(db_url: str, *, migrate: bool = False) -> None:
    """Point Django at the benchmark database (production-like: DEBUG off) and set it up."""
    import django
    from django.conf import settings

    if not settings.configured:
        os.environ["DATABASE_URL"] = db_url
        os.environ["DEBUG"] = "0"
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadflow.settings")
        django.setup()
    if settings.DATABASES["default"]["NAME"] != seed.database_name(db_url):
        raise RuntimeError(f"Django is set up for {settings.DATABASES['default']['NAME']}, not {db_url}")
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)


def _run_part(part: Part, db_url: str, n_leads: int) -> dict:
    try:
        module = importlib.import_module(f"bench.{part.name}")
    except ModuleNotFoundError as e:
        if e.name != f"bench.{part.name}":
            raise
        return {"title": part.title, "skipped": f"not built yet: comes with {part.pending}", "checks": []}
    t0 = time.perf_counter()
    try:
        result = module.run(db_url, n_leads)
    except Exception:
        traceback.print_exc()
        return {"title": part.title, "error": traceback.format_exc(limit=3), "checks": []}
    result.setdefault("title", part.title)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    return result


def render(meta: dict, parts: dict[str, dict]) -> str:
    out = [
        f"# LeadFlow benchmark — {meta['n_leads']:,} leads",
        "",
        f"- Date: {meta['date']}",
        f"- Machine: {report.machine_line(meta['machine'])}",
        f"- Load average (1, 5, 15 min) before / after: {meta['load_average']['before']} / {meta['load_average']['after']}",
        f"- Machine speed now (bench.report.speed_probe: the same fixed work, ms, lower is faster; compare runs by"
        f" these first), before / after: {report.speed_line(meta['speed'])}",
        "- OS cache: "
        + (
            f"warmed before timing (pg_prewarm 'read' of {meta['prewarm']['relations']} tables and indexes,"
            f" {meta['prewarm']['mb']:,} MB, {meta['prewarm']['seconds']} s)"
            if meta.get("prewarm")
            else "not warmed (BENCH_PREWARM=0 or pg_prewarm missing): first reads may come from disk"
        ),
        f"- Data set: seeded in {meta['seed']['seeded_seconds']:.0f} s "
        + ("(reused this run)" if meta["seed"]["reused"] else "(this run)")
        + f"; rows: {meta['seed']['rows']}",
        "",
        "## Targets",
        "",
    ]
    checks = [c for p in parts.values() for c in p.get("checks", [])]
    rows = []
    for c in checks:
        value = c["value"]
        shown = "–" if value is None else (f"{value:,.1f}" if isinstance(value, float) else f"{value:,}")
        rows.append([c["measure"], f"{shown} {c['unit']}".strip(), c["target"], report.mark(c["met"])])
    for p in parts.values():
        if "skipped" in p or "error" in p:
            rows.append([p["title"], "–", "–", "skipped" if "skipped" in p else "error"])
    out.append(report.md_table(["measure", "value", "target", "met"], rows))
    for p in parts.values():
        out += ["", f"## {p['title']}", ""]
        if "speed_before" in p:
            out += [f"Machine speed before this part: {report.speed_text(p['speed_before'])}.", ""]
        if "skipped" in p:
            out.append(f"Skipped: {p['skipped']}.")
        elif "error" in p:
            out.append("Failed:\n\n```\n" + p["error"] + "\n```")
        else:
            out.append(p.get("markdown", "").strip())
    return "\n".join(out) + "\n"


def prewarm_os_cache(cur) -> dict | None:
    """Read every table and index of the data set once (pg_prewarm's 'read' mode: into the
    operating system's cache, not shared_buffers), so the pages are timed as a server in steady
    state serves them, not at the speed of the disk the first time each block is touched — which
    depends on what ran on the machine before (a test run evicts the cache). The data set fits in
    this machine's RAM (1,000,000 leads: ~4.7 GB). BENCH_PREWARM=0 skips it; None when
    pg_prewarm is not installed."""
    from django.db import DatabaseError

    t0 = time.perf_counter()
    try:
        cur.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
    except DatabaseError as e:  # the contrib package missing: time on whatever the cache holds
        print(f"pg_prewarm unavailable ({e}); timing without a warmed cache")
        return None
    cur.execute(
        "SELECT c.oid::regclass::text, pg_relation_size(c.oid) FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i', 't', 'm')"
    )
    relations = cur.fetchall()
    for name, _size in relations:
        cur.execute("SELECT pg_prewarm(%s::regclass, 'read')", [name])
    return {
        "relations": len(relations),
        "mb": round(sum(size for _, size in relations) / 2**20),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def bench_database_url() -> str:
    """BENCH_DATABASE_URL; else next to a PostgreSQL DATABASE_URL (never the app's own database:
    the seeder truncates tables); else the default."""
    if os.environ.get("BENCH_DATABASE_URL"):
        return os.environ["BENCH_DATABASE_URL"]
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        name = seed.database_name(url)
        return url if "bench" in name else url.rsplit("/", 1)[0] + f"/{name}_bench"
    return seed.DEFAULT_DATABASE_URL


def main() -> int:
    db_url = bench_database_url()
    n_leads = int(os.environ.get("BENCH_LEADS") or seed.DEFAULT_LEADS)
    wanted = [p.strip() for p in os.environ.get("BENCH_PARTS", "").split(",") if p.strip()]
    if ensure_database(db_url):
        print(f"created database {seed.database_name(db_url)}")
    setup_django(db_url, migrate=True)
    seeding = seed.seed(db_url, n_leads)

    from django.db import connection

    with connection.cursor() as cur:
        # Indexes a migration just added (on expressions) have no statistics until ANALYZE;
        # autovacuum would get there, the benchmark should not wait for it. Cheap: a sample.
        cur.execute("ANALYZE leads_lead")
        machine = report.machine(cur)
        cur.execute(
            "SELECT relname, n_live_tup FROM pg_stat_user_tables WHERE relname LIKE ANY(%s)",
            [["leads_%", "followups_%", "qualification_%"]],
        )
        live_rows = {name: n for name, n in cur.fetchall()}
        prewarm = prewarm_os_cache(cur) if os.environ.get("BENCH_PREWARM", "1") != "0" else None
        speed_before = report.speed_probe(cur)
    seed_rows = {name: s["rows"] for name, s in seeding["seeders"].items()}
    meta = {
        "n_leads": n_leads,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine,
        "database": seed.database_name(db_url),
        "seed": {
            "reused": seeding["reused"],
            # The whole last seeding (COPY, index rebuild, vacuum) as recorded by bench.seed.
            "seeded_seconds": seeding["seeders"].get("_total", {}).get("seconds")
            or sum(s["seconds"] for s in seeding["seeders"].values()),
            "this_run_seconds": seeding["seconds"],
            "rows": ", ".join(
                f"{k} {v:,}"
                for k, v in seed_rows.items()
                if k not in ("users", "teams", "memberships", "sources", "_total")
            ),
            "seeders": seeding["seeders"],
            "anchor": seeding["anchor"],
        },
        "table_rows": live_rows,
        "prewarm": prewarm,
    }
    load_before = os.getloadavg()
    parts: dict[str, dict] = {}
    speed = speed_before  # taken just now: the first part's too
    for part in PARTS:
        if wanted and part.name not in wanted:
            continue
        print(f"--- {part.name} ---", flush=True)
        if parts:
            with connection.cursor() as cur:
                # Per part as well: on a shared machine the speed moves within a run (one run
                # here: PostgreSQL's probe 117 ms before the first part, 240 ms after the last).
                speed = report.speed_probe(cur)
        parts[part.name] = {**_run_part(part, db_url, n_leads), "speed_before": speed}

    # The machine may be shared: say how busy it was, figures are wall-clock times.
    meta["load_average"] = {
        "before": [round(x, 2) for x in load_before],
        "after": [round(x, 2) for x in os.getloadavg()],
    }
    with connection.cursor() as cur:
        meta["speed"] = {"before": speed_before, "after": report.speed_probe(cur)}
    RESULTS_DIR.mkdir(exist_ok=True)
    markdown = render(meta, parts)
    # Raw figures only: the markdown is in the .md file next to it.
    raw_parts = {name: {k: v for k, v in p.items() if k != "markdown"} for name, p in parts.items()}
    payload = json.dumps({"meta": meta, "parts": raw_parts}, indent=1, default=str)
    for stem in ("latest", f"bench-{n_leads}"):
        (RESULTS_DIR / f"{stem}.md").write_text(markdown)
        (RESULTS_DIR / f"{stem}.json").write_text(payload)
    print()
    print(markdown)
    print(f"written: {RESULTS_DIR / 'latest.md'}, {RESULTS_DIR / f'bench-{n_leads}.md'} (+ .json)")
    failed = any("error" in p for p in parts.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
