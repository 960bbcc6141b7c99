#!/usr/bin/env python
"""Benchmark: how many reminders per second ONE Celery worker dispatches, and its peak memory.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/leadflow REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/dispatcher.py --n 100000

1. Creates a fresh PostgreSQL database next to DATABASE_URL's (name + "_bench"; dropped first),
   migrates it, and seeds a team, three reps, leads and N follow-ups fallen due over the last hour
   (so none is old enough to escalate: one reminder each) with one INSERT … SELECT.
2. Starts one `celery worker --pool=solo` (a single process, so its peak RSS is the worker's) and
   one `celery beat` ticking every second, on a queue of its own, writing emails to files.
3. Times from the first reminder to the last, checks each follow-up produced exactly one
   notification and one email, reads the worker's peak RSS (VmHWM), prints the figures and writes
   them as JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
MESSAGE_ID = re.compile(rb"^Message-ID: ", re.MULTILINE)
EMAIL_BACKENDS = {
    "file": ("django.core.mail.backends.filebased.EmailBackend", "Django filebased: rendered, serialised, written"),
    "smtp": (
        "django.core.mail.backends.smtp.EmailBackend",
        "Django SMTP to a sink on 127.0.0.1: one session per batch",
    ),
    "dummy": ("django.core.mail.backends.dummy.EmailBackend", "Django dummy: rendered, not serialised or written"),
}


class SmtpSink(socketserver.ThreadingTCPServer):
    """A local SMTP server that accepts every message and keeps its Message-ID (what a relay would
    cost the worker: the SMTP dialogue per message over TCP, no onward delivery)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int):
        self.message_ids: list[bytes] = []
        super().__init__(("127.0.0.1", port), _SmtpSession)


class _SmtpSession(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        self.wfile.write(b"220 bench sink\r\n")
        while line := self.rfile.readline():
            verb = line[:4].upper()
            if verb == b"DATA":
                self.wfile.write(b"354 go on\r\n")
                chunks = []
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    chunks.append(chunk)
                self.server.message_ids += MESSAGE_ID.findall(b"".join(chunks))
                self.wfile.write(b"250 queued\r\n")
            elif verb == b"EHLO":
                self.wfile.write(b"250-bench sink\r\n250 8BITMIME\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


def bench_database_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    name = parts.path.lstrip("/") + "_bench"
    return urlunsplit(parts._replace(path="/" + name)), name


def recreate_database(url: str, name: str) -> None:
    import psycopg2

    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def seed(n: int, n_leads: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from accounts.models import Membership, Team, User
    from followups.models import FollowUpPolicy, SlaClock
    from leads.models import Lead, LeadSource
    from leads.services import lead_create

    FollowUpPolicy().save()
    manager = User.objects.create_user("bench-manager", email="manager@bench.example", password="x")
    reps = [User.objects.create_user(f"bench-rep-{i}", email=f"rep{i}@bench.example", password="x") for i in range(3)]
    team = Team.objects.create(name="Bench team", manager=manager)
    for rep in reps:
        Membership.objects.create(team=team, user=rep)
    source = LeadSource.objects.create(name="Bench")
    for i in range(n_leads):
        lead_create(
            by=None,
            name=f"Bench Lead {i}",
            email=f"lead{i}@bench.example",
            source=source,
            team=team,
            owner=reps[i % 3],
        )
    SlaClock.objects.all().delete()  # the benchmark measures follow-up reminders only
    lead_ids = list(Lead.objects.order_by("id").values_list("id", "owner_id"))
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO followups_followup
                (lead_id, owner_id, due_at, kind, instruction, state, agreed_with_lead, recycles_lead,
                 created_at, attempts, last_error)
            SELECT (%(leads)s)[1 + g %% %(n_leads)s], (%(owners)s)[1 + g %% %(n_leads)s],
                   %(now)s - make_interval(secs => g * 3600.0 / %(n)s), 'call', 'Bench call ' || g, 'pending',
                   false, false,
                   %(now)s, 0, ''
            FROM generate_series(1, %(n)s) AS g
            """,
            {
                "leads": [lead for lead, _ in lead_ids],
                "owners": [owner for _, owner in lead_ids],
                "n_leads": len(lead_ids),
                "now": timezone.now(),
                "n": n,
            },
        )
        cur.execute("ANALYZE followups_followup")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU the process has used (/proc/<pid>/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000, help="due follow-ups to dispatch")
    parser.add_argument("--leads", type=int, default=300, help="leads they belong to")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="the policy's dispatcher batch size (default: the policy's default)",
    )
    parser.add_argument("--timeout", type=int, default=1800, help="give up after this many seconds")
    parser.add_argument(
        "--email",
        choices=["file", "smtp", "dummy"],
        default="file",
        help="file: render and write every email; smtp: send each to a local SMTP sink; dummy: render, do not write",
    )
    parser.add_argument("--smtp-port", type=int, default=8704, help="the SMTP sink's port (127.0.0.1)")
    args = parser.parse_args()

    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith("postgres"):
        sys.exit("Set DATABASE_URL=postgres://… (the benchmark creates <name>_bench next to it).")
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    url, name = bench_database_url(base_url)
    recreate_database(url, name)

    os.environ.update(DATABASE_URL=url, REDIS_URL=redis_url, DJANGO_SETTINGS_MODULE="leadflow.settings")
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from followups.models import FollowUp, FollowUpPolicy, Notification

    print(f"Database {name}: migrating and seeding {args.n:,} due follow-ups…", flush=True)
    call_command("migrate", verbosity=0)
    t = time.monotonic()
    seed(args.n, args.leads)
    if args.batch_size:
        FollowUpPolicy.objects.update(batch_size=args.batch_size)
    batch_size = FollowUpPolicy.load().batch_size
    print(f"  seeded in {time.monotonic() - t:.1f} s", flush=True)
    connection.close()

    mail_dir = Path(tempfile.mkdtemp(prefix="leadflow-bench-mail-"))
    sink = SmtpSink(args.smtp_port) if args.email == "smtp" else None
    if sink:
        threading.Thread(target=sink.serve_forever, daemon=True).start()
    queue = f"lf-bench-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "CELERY_QUEUE": queue,
        "EMAIL_BACKEND": EMAIL_BACKENDS[args.email][0],
        "EMAIL_FILE_PATH": str(mail_dir),
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(args.smtp_port),
        "FOLLOWUP_TICK_SECONDS": "1",
        "LOG_LEVEL": "WARNING",
    }
    celery = [sys.executable, "-m", "celery", "-A", "leadflow"]
    worker = subprocess.Popen(
        [*celery, "worker", "--pool=solo", "--loglevel=WARNING", "--without-mingle", "--without-gossip",
         f"--hostname={queue}@%h"],
        cwd=REPO, env=env, start_new_session=True,
    )  # fmt: skip
    beat_schedule = Path(tempfile.mkdtemp(prefix="leadflow-bench-beat-")) / "schedule"
    beat = subprocess.Popen(
        [*celery, "beat", "--loglevel=WARNING", f"--schedule={beat_schedule}"],
        cwd=REPO, env=env, start_new_session=True,
    )  # fmt: skip
    try:
        due = FollowUp.objects.filter(reminded_at__isnull=True)
        deadline = time.monotonic() + args.timeout
        while not Notification.objects.exists():
            if time.monotonic() > deadline or worker.poll() is not None:
                sys.exit("the worker never started dispatching")
            time.sleep(0.05)
        started = time.monotonic()
        cpu_before = cpu_seconds(worker.pid)
        load_before = os.getloadavg()[0]
        last_report = started
        while due.exists():
            if time.monotonic() > deadline or worker.poll() is not None:
                sys.exit("the worker stopped or the benchmark timed out")
            time.sleep(0.2)
            if time.monotonic() - last_report > 10:
                done = args.n - due.count()
                print(f"  {done:,} reminded after {time.monotonic() - started:.0f} s", flush=True)
                last_report = time.monotonic()
        seconds = time.monotonic() - started
        cpu = cpu_seconds(worker.pid) - cpu_before
        rss = peak_rss_mb(worker.pid)
    finally:
        for proc in (beat, worker):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(proc.pid, signal.SIGKILL)

    emails = sum(len(MESSAGE_ID.findall(p.read_bytes())) for p in mail_dir.iterdir())
    if sink:
        sink.shutdown()
        emails = len(sink.message_ids)
    notifications = Notification.objects.count()
    shutil.rmtree(mail_dir, ignore_errors=True)
    result = {
        "benchmark": "followup dispatcher, one worker",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "due_followups": args.n,
        "seconds": round(seconds, 2),
        "reminders_per_second": round(args.n / seconds, 1),
        # On a busy machine the wall-clock rate mostly measures the wait for a core; the worker's
        # own CPU time per reminder is the steadier figure (PostgreSQL's share is not in it).
        "worker_cpu_seconds": round(cpu, 2),
        "reminders_per_worker_cpu_second": round(args.n / cpu, 1) if cpu else None,
        "worker_peak_rss_mb": round(rss, 1),
        "notifications": notifications,
        "emails": emails,
        "exactly_once": notifications == args.n and emails == (0 if args.email == "dummy" else args.n),
        "batch_size": batch_size,
        "worker": "celery worker --pool=solo (one process), beat ticking every 1 s",
        "email_backend": EMAIL_BACKENDS[args.email][1],
        "database": f"PostgreSQL {connection.cursor().connection.server_version}",
        "machine": f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        # Other work on the machine competes with the worker: the 1-minute load at start and end.
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"dispatcher-{args.n}-{args.email}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written to {out.relative_to(REPO)}")
    return 0 if result["exactly_once"] else 1


if __name__ == "__main__":
    sys.exit(main())


def run(db_url: str, n_leads: int) -> dict:
    """`make bench` part (bench/run.py): this benchmark in a child process (it sets Django up on
    its own database, `<bench database>_bench`, created and dropped here), BENCH_DISPATCH due
    follow-ups (default 100,000), emails written to files."""
    from bench import report

    n = int(os.environ.get("BENCH_DISPATCH") or 100_000)
    env = {**os.environ, "DATABASE_URL": db_url}
    subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--n", str(n), "--email", "file"], cwd=REPO, env=env, check=True
    )
    result = json.loads((RESULTS / f"dispatcher-{n}-file.json").read_text())
    url, name = bench_database_url(db_url)
    import psycopg2

    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()
    ok_rate = result["reminders_per_second"] >= 1000
    rows = [
        [
            f"{n:,}",
            f"{result['reminders_per_second']:,.0f} {report.mark(ok_rate)}",
            result["worker_peak_rss_mb"],
            f"{result['notifications']:,} / {result['emails']:,} {report.mark(result['exactly_once'])}",
            result["load_average"],
        ]
    ]
    return {
        "title": "Follow-up dispatcher, one worker",
        "markdown": report.md_table(
            ["due follow-ups", "reminders/s", "worker peak RSS MB", "notifications / emails (exactly once)", "load"],
            rows,
        )
        + f"\n\n{result['worker']}; email: {result['email_backend']}.",
        "checks": [
            report.check("Dispatcher, one worker", result["reminders_per_second"], "≥ 1,000 /s", ok_rate, "/s"),
            report.check(
                "Dispatcher: each reminder exactly once", int(result["exactly_once"]), "yes", result["exactly_once"]
            ),
        ],
        "data": result,
    }
