"""Measure CSV import and export: rows per second and peak Python memory.

    python bench/csv_io.py                      # SQLite in a temporary file, 20,000 rows
    python bench/csv_io.py --rows 50000
    python bench/csv_io.py --database-url postgres://postgres@127.0.0.1:5432/leadflow_bench

With --database-url the database must be a scratch one: the script migrates it and adds its
own users, team, source and leads (names start with "bench-"), and deletes those leads after.
It may be a copy of a seeded benchmark database (`make bench` imports into both an empty one
and such a copy: dedupe lookups and index depth are a populated database's).

Each step runs twice: once timed (rows/s) and once under tracemalloc (peak Python memory),
because tracing slows Python down several times. The timed import also reports CPU time per
row (steadier than rows/s on a shared machine): the whole process, its main thread (the import
cleans the next batch on a second thread while the database writes), and the PostgreSQL
backend serving it (read from /proc when the server runs on this machine). Results are printed
and written as JSON to bench/results/csv_io-<database>-<rows>[-<label>].json.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--bad-every", type=int, default=10, help="every n-th row is invalid (0: none)")
    parser.add_argument("--database-url", default="", help="a scratch PostgreSQL database (default: temporary SQLite)")
    parser.add_argument("--label", default="", help="added to the results file's name")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="leadflow-bench-")
    os.environ.pop("REDIS_URL", None)
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    else:
        os.environ.pop("DATABASE_URL", None)
        os.environ["SQLITE_PATH"] = str(Path(tmp) / "bench.sqlite3")
    os.environ["MEDIA_ROOT"] = str(Path(tmp) / "media")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadflow.settings")

    import django

    django.setup()
    # The import runs here, in this process, not on a worker: the tasks its services enqueue
    # (the import itself, owner notices) are not sent anywhere.
    from intake.tasks import import_job_run_task
    from leads.tasks import owner_notice_send_task

    for task in (import_job_run_task, owner_notice_send_task):
        task.apply_async = lambda *a, **k: None
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    result = measure(args.rows, args.bad_every)
    result["database"] = connection.vendor
    result["python"] = platform.python_version()
    result["machine"] = f"{platform.machine()}, {os.cpu_count()} cores"
    out = _results_path(connection.vendor, args.rows, args.label)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written to {out.relative_to(ROOT)}")


def _results_path(vendor: str, rows: int, label: str) -> Path:
    return ROOT / "bench" / "results" / f"csv_io-{vendor}-{rows}{f'-{label}' if label else ''}.json"


def _backend_cpu_seconds():
    """CPU seconds the PostgreSQL backend of our connection has used so far (None if its
    process is not readable here: another machine or another user)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    connection.ensure_connection()
    try:
        with open(f"/proc/{connection.connection.get_backend_pid()}/schedstat") as f:
            return int(f.read().split()[0]) / 1e9
    except OSError:
        return None


def _make_csv(rows: int, bad_every: int, tag: str) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["Name", "Email", "Phone", "Company", "Notes"])
    for i in range(rows):
        if bad_every and i % bad_every == 0:
            writer.writerow([f"Bad {i}", "not-an-email", "", "Acme", ""])
        else:
            phone = f"+1 415 555 {i % 10000:04d}" if i % 3 == 0 else ""
            writer.writerow([f"Person {i}", f"bench-{tag}-{i}@example.com", phone, "Acme", "Came from the fair"])
    return buf.getvalue().encode()


def _measure(fn):
    """(seconds, result) of fn."""
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def bench_team(prefix: str):
    """An admin `<prefix>-manager` managing `<prefix>-team` of three reps, a source `<prefix>-source`,
    and the default cadences (as `make run` and a real install have them: each new lead gets its
    first follow-ups, six for a new lead, besides its speed-to-lead clock). Idempotent."""
    from django.contrib.auth.models import Group

    from accounts import roles
    from accounts.models import Membership, Team, User
    from followups.services import cadences_ensure_defaults
    from leads.models import LeadSource

    manager, _ = User.objects.get_or_create(username=f"{prefix}-manager")
    manager.groups.add(Group.objects.get(name=roles.ADMIN))
    team, _ = Team.objects.get_or_create(name=f"{prefix}-team", defaults={"manager": manager})
    for i in range(3):
        rep, _ = User.objects.get_or_create(username=f"{prefix}-rep{i}")
        rep.groups.add(Group.objects.get(name=roles.REP))
        Membership.objects.get_or_create(team=team, user=rep)
    source, _ = LeadSource.objects.get_or_create(name=f"{prefix}-source")
    cadences_ensure_defaults()
    return manager, team, source


def measure(rows: int, bad_every: int) -> dict:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from intake import csvio
    from intake import services as intake_services
    from intake.models import ImportJob
    from leads.models import Lead
    from leads.selectors import STAGE_FILTER_ALL, LeadFilters, lead_list_filtered

    manager, team, source = bench_team("bench")

    def prepare(tag: str) -> ImportJob:
        content = _make_csv(rows, bad_every, tag)
        upload = SimpleUploadedFile("bench.csv", content, content_type="text/csv")
        job = intake_services.import_job_create(user=manager, upload=upload, team=team, source=source)
        intake_services.import_job_start(job=job, mapping=job.mapping)
        return job

    def run_import(job: ImportJob) -> ImportJob:
        intake_services.import_job_run(job_id=job.pk)
        job.refresh_from_db()
        return job

    size = len(_make_csv(rows, bad_every, "size"))
    # Timed: the background run only (the upload check is a separate, streaming pass).
    job = prepare(f"t{time.time_ns()}")
    cpu, main_cpu, db_cpu = time.process_time(), time.thread_time(), _backend_cpu_seconds()
    seconds, job = _measure(lambda: run_import(job))
    cpu, main_cpu = time.process_time() - cpu, time.thread_time() - main_cpu
    if job.status != ImportJob.Status.DONE or job.rows_processed != rows:
        raise SystemExit(f"the import did not finish: {job.status}, {job.rows_processed} rows, {job.error_message}")
    db_cpu = None if db_cpu is None else _backend_cpu_seconds() - db_cpu
    # Traced: a second run on a fresh file, the file itself made before tracing starts.
    traced = prepare(f"m{time.time_ns()}")
    tracemalloc.start()
    run_import(traced)
    _, import_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    def export() -> int:
        q = lead_list_filtered(user=manager, filters=LeadFilters(stage=STAGE_FILTER_ALL))
        header, data = intake_services.lead_export_rows(q.filter(team=team))
        n = 0
        for line in csvio.stream_csv(header, data):
            n += line.count("\n")
        return n - 1

    export_seconds, exported = _measure(export)
    tracemalloc.start()
    export()
    _, export_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    Lead.objects.filter(team=team).delete()
    return {
        "rows": rows,
        "file_bytes": size,
        "import": {
            "seconds": round(seconds, 2),
            "rows_per_second": round(rows / seconds),
            "created": job.rows_created + job.rows_flagged,
            "rejected": job.rows_rejected,
            "peak_python_memory_mb": round(import_peak / 1e6, 2),
            "python_cpu_us_per_row": round(cpu / rows * 1e6),
            "main_thread_cpu_us_per_row": round(main_cpu / rows * 1e6),
            "database_cpu_us_per_row": None if db_cpu is None else round(db_cpu / rows * 1e6),
            "load_average": round(os.getloadavg()[0], 2),
        },
        "export": {
            "rows": exported,
            "seconds": round(export_seconds, 2),
            "rows_per_second": round(exported / export_seconds),
            "peak_python_memory_mb": round(export_peak / 1e6, 2),
        },
    }


def run(db_url: str, n_leads: int) -> dict:
    """The `make bench` part: this script in a process of its own (it sets Django up for its own
    database), on a scratch database created next to the benchmark one and dropped afterwards."""
    import subprocess

    from bench import report, seed

    rows = int(os.environ.get("BENCH_CSV_ROWS", "50000"))
    template = seed.database_name(db_url)
    runs = {}
    for label in ("empty", "populated"):
        scratch_name = f"{template}_csv"
        scratch = db_url.rsplit("/", 1)[0] + f"/{scratch_name}"
        if label == "empty":
            _psql_admin(db_url, f'DROP DATABASE IF EXISTS "{scratch_name}" WITH (FORCE)')
            _psql_admin(db_url, f'CREATE DATABASE "{scratch_name}"')
        else:
            from bench.intake import _create_scratch  # here: bench.intake imports this module

            if not _create_scratch(db_url, template, scratch_name):
                label = "empty-again (the benchmark database was in use, no copy)"
        try:
            subprocess.run(
                [
                    sys.executable,
                    str(Path(__file__)),
                    "--rows",
                    str(rows),
                    "--database-url",
                    scratch,
                    "--label",
                    label.split()[0],
                ],
                check=True,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
            )
        finally:
            _psql_admin(db_url, f'DROP DATABASE IF EXISTS "{scratch_name}" WITH (FORCE)')
        runs[label] = json.loads(_results_path("postgresql", rows, label.split()[0]).read_text())

    def cpu(imp: dict) -> str:
        db = imp["database_cpu_us_per_row"]
        return f"{imp['python_cpu_us_per_row']} / {imp['main_thread_cpu_us_per_row']} / {'–' if db is None else db}"

    lines = [
        f"{rows:,} rows, every 10th invalid, imported into an empty scratch database and into a copy of the "
        f"benchmark database ({n_leads:,} leads; its dedupe lookups and index depth) (PostgreSQL). CPU µs per "
        "row: the Python process / its main thread (the next batch is cleaned on a second thread) / the "
        "PostgreSQL backend.",
        "",
        "| step | database | rows/s | seconds | CPU µs/row (Python / main thread / PostgreSQL) | peak Python memory MB |",
        "|---|---|---|---|---|---|",
    ]
    for label, data in runs.items():
        imp = data["import"]
        lines.append(
            f"| import (stream, validate, dedupe, assign, bulk insert with SLA clocks and six follow-ups per lead) "
            f"| {label} | {imp['rows_per_second']:,} | {imp['seconds']} | {cpu(imp)} | {imp['peak_python_memory_mb']} |"
        )
    exp = runs["empty"]["export"]
    lines.append(
        f"| export | empty | {exp['rows_per_second']:,} | {exp['seconds']} | | {exp['peak_python_memory_mb']} |"
    )
    # The target is judged on the populated copy: a real import goes into a database that has leads.
    judged_label = list(runs)[-1]
    judged = runs[judged_label]["import"]["rows_per_second"]
    return {
        "markdown": "\n".join(lines),
        "checks": [
            report.check(
                f"CSV import ({judged_label.split()[0]} database)", judged, "≥ 5,000 rows/s", judged >= 5000, " rows/s"
            )
        ],
        "data": runs,
    }


def _psql_admin(db_url: str, statement: str) -> None:
    import psycopg2

    conn = psycopg2.connect(db_url.rsplit("/", 1)[0] + "/postgres", connect_timeout=5)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


if __name__ == "__main__":
    main()
