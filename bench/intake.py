"""Web-to-lead intake over HTTP: leads made per second through the public form, none lost.

The `make bench` part `intake` (`BENCH_PARTS=intake`). On a scratch copy of the benchmark
database (`CREATE DATABASE … TEMPLATE`, or an empty migrated one if the template is busy), it
starts gunicorn (DEBUG off, production-like settings from the environment, as loadtest/run.py
does) and one Celery worker on a private queue, and drives the public form `/f/<slug>/` with
wrk for BENCH_INTAKE_SECONDS (20): every POST is a valid submission with its own email and a
signed form token old enough for the minimum fill time.

The form accepts, then processes: a POST saves the submission and answers; the worker's drain
makes the leads in batches. So the bench reports both rates — POSTs accepted per second (wrk's
requests answered with the thank-you redirect / wrk's duration) and **leads made per second
= leads saved / (first POST → last lead saved)**: after wrk stops it waits (at most
BENCH_INTAKE_DRAIN_WAIT, 120 s) until no submission is pending, and takes that moment as the
last lead saved. Then it counts: every POST answered with the redirect must have its lead
(0 lost), and no submission may have failed. The target applies to leads made per second.
The scratch database and the private Celery queue are removed afterwards.

It also reports the CPU time each part of the stack used per lead made, from wrk's start to the
last lead saved: gunicorn (master and workers), the Celery worker, the PostgreSQL backends of
the scratch database (read from /proc: PostgreSQL on this machine), and wrk. On a machine shared
with other work the rates move with the load; the CPU per lead much less.

The worker does what production's does meanwhile: the drains, the owner notices and
confirmation emails (written to files), and the follow-up dispatcher for the new leads'
first (immediately due) follow-ups. It runs with the solo pool (one process).

Needs `wrk` (Debian: `apt-get install -y wrk`) and Redis (REDIS_URL, else
redis://127.0.0.1:6379/0: the rate-limit and debounce cache shared by the processes and the
broker, in a private queue deleted at the end).

The per-address rate limit (WEBFORM_RATE_LIMIT) would refuse a load that all comes from
127.0.0.1 after 10 posts: the bench raises it, and says so. Everything else a post goes through
stays on (honeypot, signed token, minimum fill time, idempotency, dedupe, assignment).

Environment: BENCH_INTAKE_SECONDS (20), BENCH_INTAKE_WORKERS (gunicorn workers, 3),
BENCH_INTAKE_CONNECTIONS (wrk connections, 8), BENCH_INTAKE_PORT (8702).
"""

from __future__ import annotations

import json
import os
import resource
import secrets
import shutil
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

from bench.csv_io import _psql_admin

ROOT = Path(__file__).resolve().parent.parent
TARGET_LEADS_PER_SECOND = 300
RATE_LIMIT_FOR_BENCH = 1_000_000_000
HOST = "127.0.0.1"

# Run in a subprocess on the scratch database: what the bench needs there, idempotently.
SETUP = """
import json
from bench.csv_io import bench_team
from intake.models import WebForm

manager, team, source = bench_team("bench-intake")
form, _ = WebForm.objects.get_or_create(
    slug="bench-intake", defaults={"source": source, "team": team, "title": "Bench intake"}
)
print(json.dumps({"form": form.pk, "slug": form.slug}))
"""

# wrk: each thread takes every n-th prepared body; counts the answers; prints JSON at the end.
WRK_LUA = r"""
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  bodies, k, ok, redirect_other, limited, client_error, server_error, other, exhausted = {}, 0, 0, 0, 0, 0, 0, 0, 0
  local i = 0
  for line in io.lines(args[1]) do
    if i % tonumber(args[2]) == id then bodies[#bodies + 1] = line end
    i = i + 1
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
function request()
  k = k + 1
  if k > #bodies then exhausted = 1; k = 1 end
  return wrk.format(nil, nil, nil, bodies[k])
end
function response(status, headers, body)
  if status == 302 then
    local location = headers["Location"] or ""
    if string.sub(location, -8) == "/thanks/" then ok = ok + 1 else redirect_other = redirect_other + 1 end
  elseif status == 429 then limited = limited + 1
  elseif status >= 500 then server_error = server_error + 1
  elseif status >= 400 then client_error = client_error + 1
  else other = other + 1 end
end
function done(summary, latency, requests)
  local t = {acknowledged = 0, redirect_other = 0, limited = 0, client_error = 0, server_error = 0, other = 0, exhausted = 0}
  for _, thread in ipairs(threads) do
    t.acknowledged = t.acknowledged + thread:get("ok")
    t.redirect_other = t.redirect_other + thread:get("redirect_other")
    t.limited = t.limited + thread:get("limited")
    t.client_error = t.client_error + thread:get("client_error")
    t.server_error = t.server_error + thread:get("server_error")
    t.other = t.other + thread:get("other")
    t.exhausted = t.exhausted + thread:get("exhausted")
  end
  local e = summary.errors
  io.write(string.format(
    '\nWRK_JSON {"requests": %d, "duration_us": %d, "socket_errors": %d, "timeouts": %d, ' ..
    '"acknowledged": %d, "redirect_other": %d, "limited": %d, "client_error": %d, "server_error": %d, ' ..
    '"other": %d, "bodies_exhausted": %d, "p50_ms": %.1f, "p95_ms": %.1f, "p99_ms": %.1f}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write, e.timeout,
    t.acknowledged, t.redirect_other, t.limited, t.client_error, t.server_error, t.other, t.exhausted,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
"""


def run(db_url: str, n_leads: int) -> dict:
    """The `make bench` part (see the module docstring)."""
    from django.conf import settings

    from bench import report, seed
    from loadtest.run import Stack, log, wait_for

    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("bench intake needs wrk: apt-get install -y wrk (Debian/Ubuntu), then run it again.")
    seconds = int(os.environ.get("BENCH_INTAKE_SECONDS", "20"))
    workers = int(os.environ.get("BENCH_INTAKE_WORKERS", "3"))
    connections = int(os.environ.get("BENCH_INTAKE_CONNECTIONS", "8"))
    port = int(os.environ.get("BENCH_INTAKE_PORT", "8702"))
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    run_tag = secrets.token_hex(3)

    template = seed.database_name(db_url)
    scratch_name = f"{template}_intake_{run_tag}"  # another run beside this one keeps its own
    scratch = db_url.rsplit("/", 1)[0] + f"/{scratch_name}"
    stack = Stack()
    stack.env.update(
        {
            "DATABASE_URL": scratch,
            "REDIS_URL": redis_url,
            "SECRET_KEY": settings.SECRET_KEY,  # the tokens this process signs must verify there
            "WEBFORM_RATE_LIMIT": str(RATE_LIMIT_FOR_BENCH),
            "LOG_LEVEL": "WARNING",
        }
    )
    try:
        copied = _create_scratch(db_url, template, scratch_name)
        if not copied:
            log(f"{template} is in use: the intake bench runs on an empty migrated database")
            stack.manage("migrate", "--noinput")
        form = json.loads(
            stack.run([sys.executable, "manage.py", "shell", "-c", SETUP]).stdout.strip().splitlines()[-1]
        )

        # Bodies: more than the server can take in the time, each with its own email and token.
        n_bodies = int(os.environ.get("BENCH_INTAKE_BODIES", str(max(20_000, seconds * 2_000))))
        bodies = stack.tmp / "bodies.txt"
        bodies.write_text("\n".join(_bodies(form["form"], run_tag, n_bodies)) + "\n")
        script = stack.tmp / "post.lua"
        script.write_text(WRK_LUA)
        minted_at = time.monotonic()

        stack.start("worker", [sys.executable, "-m", "celery", "-A", "leadflow", "worker", "--pool=solo",
                               "--loglevel=WARNING", "--without-mingle", "--without-gossip",
                               "--without-heartbeat"])  # fmt: skip
        stack.start("gunicorn", [str(Path(sys.executable).parent / "gunicorn"), "leadflow.wsgi",
                                 "--bind", f"{HOST}:{port}", "--workers", str(workers),
                                 "--timeout", "30", "--graceful-timeout", "5"])  # fmt: skip
        url = f"http://{HOST}:{port}/f/{form['slug']}/"
        if not wait_for(lambda: _get_status(url) == 200, 30):
            raise RuntimeError(f"gunicorn did not answer on {url}:\n" + stack.tail("gunicorn"))
        # The form drops posts sent faster than WEBFORM_MIN_FILL_SECONDS after the token was issued.
        time.sleep(max(0.0, settings.WEBFORM_MIN_FILL_SECONDS + 1 - (time.monotonic() - minted_at)))
        log(f"wrk: {seconds} s, {connections} connections, gunicorn {workers} workers → {url}")
        load_before = os.getloadavg()
        cpu_before = _cpu_of_parts(stack, scratch)
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        first_post = time.monotonic()
        out = stack.run(
            [wrk, "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s", "-s", str(script),
             url, "--", str(bodies), "2"],
            timeout=seconds + 60,
        ).stdout  # fmt: skip
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk is the only child reaped meanwhile
        wrk_cpu = sum(getattr(children_after, f) - getattr(children_before, f) for f in ("ru_utime", "ru_stime"))
        figures = json.loads(next(line for line in out.splitlines() if line.startswith("WRK_JSON "))[9:])
        # The drain goes on after the last POST: wait for it, bounded; the moment nothing is
        # pending is when the last lead was saved.
        drain_wait = float(os.environ.get("BENCH_INTAKE_DRAIN_WAIT", "120"))
        drained = wait_for(lambda: _pending(scratch) == 0, drain_wait, interval=0.1)
        last_lead = time.monotonic()
        cpu_used = {**_cpu_used(cpu_before, _cpu_of_parts(stack, scratch)), "wrk": wrk_cpu}
        time.sleep(1)  # requests still in a worker when wrk stopped
        stack.stop("gunicorn")
        if drained and _pending(scratch):  # one of those came in after: its lead is the last
            drained = wait_for(lambda: _pending(scratch) == 0, drain_wait, interval=0.1)
            last_lead = time.monotonic()
        load_after = os.getloadavg()
        if not drained:
            log(f"submissions still pending after {drain_wait:.0f} s:\n" + stack.tail("worker"))
        stack.stop("worker")
        saved, with_submission, failed, pending = _count_saved(scratch, run_tag)
    finally:
        stack.close()
        _psql_admin(db_url, f'DROP DATABASE IF EXISTS "{scratch_name}" WITH (FORCE)')
        _drop_queue(redis_url, stack.queue)

    elapsed = figures["duration_us"] / 1e6
    acknowledged = figures["acknowledged"]
    errors = figures["client_error"] + figures["server_error"] + figures["socket_errors"] + figures["timeouts"]
    errors += figures["limited"] + figures["redirect_other"] + figures["other"]
    lost = max(0, acknowledged - saved)
    errors += failed
    accepted_per_second = round(acknowledged / elapsed, 1)
    made_seconds = last_lead - first_post
    leads_per_second = round(saved / made_seconds, 1)
    cpu_ms_per_lead = {part: round(1000 * seconds / max(saved, 1), 2) for part, seconds in cpu_used.items()}
    cpu_ms_per_lead["total"] = round(sum(cpu_ms_per_lead.values()), 2)
    data = {
        **figures,
        "seconds": round(elapsed, 1),
        "gunicorn_workers": workers,
        "connections": connections,
        "errors": errors,
        "leads_saved": saved,
        "leads_with_submission": with_submission,
        "submissions_failed": failed,
        "submissions_pending_at_end": pending,
        "lost": lost,
        "posts_accepted_per_second": accepted_per_second,
        "first_post_to_last_lead_seconds": round(made_seconds, 1),
        "leads_per_second": leads_per_second,
        "cpu_ms_per_lead": cpu_ms_per_lead,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "database": "copy of the benchmark database" if copied else "empty migrated database",
        "rate_limit_for_bench": RATE_LIMIT_FOR_BENCH,
    }
    rows = [
        ["requests", f"{figures['requests']:,}"],
        ["acknowledged (302 to the thank-you page)", f"{acknowledged:,}"],
        ["leads saved (counted in the database)", f"{saved:,}"],
        ["lost (acknowledged, not saved)", f"{lost:,}"],
        ["errors (4xx, 5xx, 429, socket errors, timeouts, failed submissions)", f"{errors:,}"],
        ["POSTs accepted/s", f"{accepted_per_second:,}"],
        ["first POST → last lead saved, s", f"{made_seconds:.1f}"],
        ["leads made/s", f"{leads_per_second:,}"],
        ["latency p50 / p95 / p99 ms", f"{figures['p50_ms']} / {figures['p95_ms']} / {figures['p99_ms']}"],
        [
            "CPU ms per lead: gunicorn / worker / PostgreSQL / wrk = total",
            " / ".join(f"{cpu_ms_per_lead[p]:.2f}" for p in ("gunicorn", "worker", "postgres", "wrk"))
            + f" = {cpu_ms_per_lead['total']:.2f}",
        ],
    ]
    notes = [
        f"wrk for {elapsed:.0f} s, {connections} connections, against gunicorn with {workers} sync workers "
        f"(DEBUG off) and one Celery worker (solo pool) on the {data['database']}; every POST a valid "
        "submission with its own email. Leads made/s = leads saved / (first POST → last lead saved), "
        "the last lead being saved when no submission is pending any more.",
        f"The per-address rate limit is raised for the bench (WEBFORM_RATE_LIMIT={RATE_LIMIT_FOR_BENCH}): "
        "all the load comes from 127.0.0.1. Honeypot, token, minimum fill time, idempotency, dedupe and "
        "assignment stay on; the worker drains the submissions and sends the notices, confirmations and "
        "first reminders (to files).",
        f"Load average (1/5/15 min) before wrk: {' / '.join(f'{x:.2f}' for x in load_before)}; "
        f"after the drain: {' / '.join(f'{x:.2f}' for x in load_after)}.",
    ]
    if figures["bodies_exhausted"]:
        notes.append("**The prepared bodies ran out: later posts were re-posts (raise BENCH_INTAKE_BODIES).**")
    markdown = "\n".join([*notes, "", report.md_table(["measure", "value"], rows)])
    return {
        "markdown": markdown,
        "checks": [
            report.check(
                "Web-to-lead intake",
                leads_per_second,
                f"≥ {TARGET_LEADS_PER_SECOND} leads/s, 0 errors, 0 lost",
                leads_per_second >= TARGET_LEADS_PER_SECOND and errors == 0 and lost == 0,
                " leads/s",
            )
        ],
        "data": data,
    }


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # gone, or not ours to read
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_of_parts(stack, scratch: str) -> dict[int, tuple[str, float]]:
    """{pid: (part, CPU seconds so far)} for gunicorn's master and workers, the Celery worker and
    the PostgreSQL backends serving the scratch database."""
    import psycopg2

    parts = {stack.procs["gunicorn"].pid: "gunicorn", stack.procs["worker"].pid: "worker"}
    gunicorn = stack.procs["gunicorn"].pid
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == gunicorn:
                    parts[int(entry.name)] = "gunicorn"
            except OSError:
                continue
    conn = psycopg2.connect(scratch, connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            parts.update({pid: "postgres" for (pid,) in cur.fetchall()})
    finally:
        conn.close()
    return {pid: (part, cpu) for pid, part in parts.items() if (cpu := _cpu_seconds(pid)) is not None}


def _cpu_used(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds per part between two readings; a process started in between counts from 0 (a
    backend that closed in between is missed: the app's connections stay open, CONN_MAX_AGE)."""
    used = {"gunicorn": 0.0, "worker": 0.0, "postgres": 0.0}
    for pid, (part, cpu) in after.items():
        used[part] += cpu - before.get(pid, (part, 0.0))[1]
    return used


def _bodies(form_id: int, run_tag: str, n: int) -> list[str]:
    from intake.forms import HONEYPOT, TOKEN
    from intake.models import WebForm
    from intake.services import webform_token_issue

    form = WebForm(pk=form_id)  # the token carries only the form's id
    return [
        urlencode(
            {
                "name": f"Bench Visitor {i}",
                "email": f"bi-{run_tag}-{i}@bench-intake.example",
                "phone": "",
                "company": "Bench Ltd",
                "message": "Please call me about your product.",
                TOKEN: webform_token_issue(form=form),
                HONEYPOT: "",
            }
        )
        for i in range(n)
    ]


def _get_status(url: str) -> int:
    import urllib.request

    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own server)
        return response.status


def _create_scratch(db_url: str, template: str, name: str) -> bool:
    """A file copy of the benchmark database if nobody is connected to it within 20 s (True),
    else an empty database (False)."""
    import psycopg2
    from django.db import connections

    connections.close_all()  # our own connection to the template would block the copy
    _psql_admin(db_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    stop_at = time.monotonic() + 20
    while True:
        try:
            _psql_admin(db_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            return True
        except psycopg2.errors.ObjectInUse:
            if time.monotonic() > stop_at:
                break
            time.sleep(1)
    _psql_admin(db_url, f'CREATE DATABASE "{name}"')
    return False


def _pending(scratch: str) -> int:
    import psycopg2

    conn = psycopg2.connect(scratch, connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM intake_webformsubmission WHERE state = 'pending'")
            return cur.fetchone()[0]
    finally:
        conn.close()


def _count_saved(scratch: str, run_tag: str) -> tuple[int, int, int, int]:
    """Leads of this run, and its submissions: all, failed, still pending."""
    import psycopg2

    conn = psycopg2.connect(scratch, connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM leads_lead WHERE email LIKE %s", [f"bi-{run_tag}-%"])
            (leads,) = cur.fetchone()
            cur.execute(
                "SELECT count(*), count(*) FILTER (WHERE state = 'failed'), count(*) FILTER (WHERE state = 'pending')"
                " FROM intake_webformsubmission WHERE email LIKE %s",
                [f"bi-{run_tag}-%"],
            )
            submissions, failed, pending = cur.fetchone()
    finally:
        conn.close()
    return leads, submissions, failed, pending


def _drop_queue(redis_url: str, queue: str) -> None:
    """Whatever the worker left in the run's private queue."""
    import redis

    try:
        client = redis.Redis.from_url(redis_url, socket_timeout=5)
        client.delete(queue, f"_kombu.binding.{queue}")
    except redis.RedisError:
        pass


if __name__ == "__main__":
    sys.exit("Run it through make bench: make bench BENCH_PARTS=intake")
