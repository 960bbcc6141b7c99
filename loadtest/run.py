"""`make loadtest`: LeadFlow under load on its own private stack, then PostgreSQL and Redis faults.

    .venv/bin/python loadtest/run.py [--duration 60] [--reps 6] [--intake 2] [--workers 3]

Everything runs on 127.0.0.1 and is the script's own: a PostgreSQL cluster made with initdb under
/tmp (port 5499), a redis-server (port 6399), gunicorn (port 8301), a Celery worker and beat. It
migrates and seeds the demo data, then:

1. steady: for --duration seconds, simulated reps log in, open their queue, open lead pages and
   log activities, while intake threads POST new leads. Every lead whose POST was answered with
   a success (302 to the new lead) is recorded with a unique marker in its email address.
2. postgres: the same load; PostgreSQL is stopped (pg_ctl stop -m fast) for a few seconds and
   started again. Requests in the gap must get the 503 "back in a moment" page (never a
   traceback); the app must recover by itself (gunicorn is not restarted).
3. redis: the same load; Redis is stopped. Pages and intake must keep working. While it is down,
   a follow-up falls due; after Redis is back it must be dispatched (reminded) by the worker.

Then every recorded lead is looked up in the database. Figures are printed and written to
loadtest/results/latest.md and latest.json. Every process is stopped and every temporary file
removed at the end, also on Ctrl-C or failure. The exit status is 1 if a check failed.

The load generator is the standard library (threads + http.client): no extra package.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PGBIN = Path(os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin"))
HOST = "127.0.0.1"
PG_PORT, REDIS_PORT, WEB_PORT = 5499, 6399, 8301
PASSWORD = "leadflow-demo"
REPS = ["ana", "ben", "carla"]
# Hard cap for the whole run: a hung step must not keep a machine busy.
DEADLINE_SECONDS = 15 * 60


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- Private services ----------------------------------------------------------------------------


class Stack:
    """The processes and files of one run; `close()` removes them all (idempotent)."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="leadflow-loadtest-"))
        self.tmp.chmod(0o755)  # the postgres user must reach its data directory
        self.pgroot = self.tmp / "pg"  # owned by the postgres user: the cluster and its log
        self.pgdata = self.pgroot / "data"
        self.procs: dict[str, subprocess.Popen] = {}
        self.supervised: dict[str, list[str]] = {}
        self.exits: list[dict] = []
        self.watcher: threading.Thread | None = None
        self.closing = threading.Event()
        self.logs: dict[str, Path] = {}
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.queue = f"loadtest-{secrets.token_hex(4)}"
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "LEADFLOW_PRODUCTION")},
            "DATABASE_URL": f"postgres://postgres@{HOST}:{PG_PORT}/leadflow_load",
            "REDIS_URL": f"redis://{HOST}:{REDIS_PORT}/0",
            "DEBUG": "0",
            "LOG_LEVEL": "INFO",
            "FOLLOWUP_TICK_SECONDS": "5",
            # Every visitor of the load test comes from 127.0.0.1: the per-address limit of the
            # public form is not what is measured here. The fill-time check stays on (1 s).
            "WEBFORM_RATE_LIMIT": "1000000",
            "WEBFORM_MIN_FILL_SECONDS": "1",
            "CELERY_QUEUE": self.queue,
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(self.tmp / "mail"),
            "PYTHONUNBUFFERED": "1",
        }

    # processes
    def supervise(self, name: str, cmd: list[str]) -> None:
        """Start `name` and restart it whenever it exits, as systemd's Restart=always would in
        production. Each exit is recorded (time, status, the log's "Unrecoverable error" line)."""
        self.supervised[name] = cmd
        self.start(name, cmd)
        if self.watcher is None:
            self.watcher = threading.Thread(target=self._watch, daemon=True)
            self.watcher.start()

    def _watch(self) -> None:
        while not self.closing.wait(0.5):
            for name, cmd in list(self.supervised.items()):
                proc = self.procs.get(name)
                if proc is None or proc.poll() is None or self.closing.is_set():
                    continue
                reason = next(
                    (
                        line.strip()
                        for line in reversed(self.tail(name, 400).splitlines())
                        if "Unrecoverable error" in line
                    ),
                    "",
                )
                self.exits.append(
                    {"name": name, "at": time.strftime("%H:%M:%S"), "status": proc.returncode, "reason": reason}
                )
                log(f"{name} exited ({proc.returncode}) {reason[:160]}; restarting it")
                self.start(name, cmd)

    def start(self, name: str, cmd: list[str], **kw) -> subprocess.Popen:
        logfile = self.tmp / f"{name}.log"
        self.logs[name] = logfile
        out = open(logfile, "ab")  # noqa: SIM115 (closed with the process)
        # Own session: Ctrl-C in the terminal reaches only this script, which then stops them.
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **kw
        )
        out.close()
        self.procs[name] = proc
        return proc

    def stop(self, name: str, timeout: float = 10) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        except ProcessLookupError:
            pass

    def run(self, cmd: list[str], *, timeout: float = 300, check: bool = True, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(
            cmd, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout, check=check, **kw
        )

    def manage(self, *args: str, timeout: float = 300) -> str:
        return self.run([sys.executable, "manage.py", *args], timeout=timeout).stdout

    # PostgreSQL
    def pg_ctl(self, *args: str, timeout: float = 60) -> None:
        self.run([*self.as_postgres, str(PGBIN / "pg_ctl"), "-D", str(self.pgdata), *args], timeout=timeout)

    def pg_init(self) -> None:
        self.pgroot.mkdir()
        if self.as_postgres:
            shutil.chown(self.pgroot, "postgres", "postgres")
        self.run([*self.as_postgres, str(PGBIN / "initdb"), "-D", str(self.pgdata), "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8"])  # fmt: skip
        conf = self.pgdata / "postgresql.conf"
        with conf.open("a") as f:
            f.write(
                f"port = {PG_PORT}\nlisten_addresses = '{HOST}'\nunix_socket_directories = '{self.pgdata}'\n"
                "max_connections = 50\nshared_buffers = 64MB\n"
            )
        self.pg_start()
        self.run([str(PGBIN / "createdb"), "-h", HOST, "-p", str(PG_PORT), "-U", "postgres", "leadflow_load"])

    def pg_start(self) -> None:
        self.pg_ctl("start", "-w", "-l", str(self.pgroot / "postgres.log"))

    def pg_stop(self, mode: str = "fast") -> None:
        self.pg_ctl("stop", "-w", "-m", mode)

    # Redis
    def redis_start(self) -> None:
        self.start(
            "redis", ["redis-server", "--port", str(REDIS_PORT), "--bind", HOST, "--save", "", "--appendonly", "no"]
        )
        wait_for(
            lambda: self.run(["redis-cli", "-p", str(REDIS_PORT), "ping"], check=False).stdout.strip() == "PONG", 10
        )

    def redis_stop(self) -> None:
        self.stop("redis")

    def close(self) -> None:
        self.closing.set()
        if self.watcher is not None:
            self.watcher.join(5)
        for name in list(self.procs)[::-1]:
            self.stop(name)
        if (self.pgdata / "postmaster.pid").exists():
            try:
                self.pg_stop("immediate")
            except Exception as e:  # noqa: BLE001 - keep cleaning up
                log(f"pg_ctl stop failed: {e}")
        shutil.rmtree(self.tmp, ignore_errors=True)

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.logs.get(name) or (self.pgroot if name == "postgres" else self.tmp) / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_for(predicate, timeout: float, interval: float = 0.3) -> bool:
    stop_at = time.monotonic() + timeout
    while time.monotonic() < stop_at:
        try:
            if predicate():
                return True
        except Exception:  # noqa: BLE001, S110 - not up yet
            pass
        time.sleep(interval)
    return False


# --- HTTP client and samples ---------------------------------------------------------------------


@dataclass
class Sample:
    phase: str
    kind: str
    at: float  # seconds since the run started
    status: int  # 0: no answer (connection refused/reset, timeout)
    ms: float
    outcome: str  # ok | 503-page | error


@dataclass
class Response:
    status: int
    body: str
    location: str
    ms: float


class Recorder:
    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.phase = "setup"
        self.samples: list[Sample] = []
        self.leads: list[dict] = []  # every lead whose POST was answered with success
        self.tracebacks: list[str] = []
        self.lock = threading.Lock()

    def now(self) -> float:
        return time.monotonic() - self.t0

    def add(self, kind: str, r: Response, ok: bool) -> str:
        if ok:
            outcome = "ok"
        elif r.status == 503 and "back in a moment" in r.body and "Traceback" not in r.body:
            outcome = "503-page"
        else:
            outcome = "error"
        if "Traceback" in r.body or 'File "/' in r.body:
            with self.lock:
                self.tracebacks.append(f"{kind} {r.status}: {r.body[:300]}")
        with self.lock:
            self.samples.append(Sample(self.phase, kind, round(self.now(), 3), r.status, round(r.ms, 1), outcome))
        return outcome


class Client:
    """One browser: cookies, CSRF token, a new connection per request (gunicorn's sync workers
    close them anyway)."""

    def __init__(self, rec: Recorder) -> None:
        self.rec = rec
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, data: dict | None = None) -> Response:
        headers = {"Host": f"{HOST}:{WEB_PORT}", "User-Agent": "leadflow-loadtest"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if data is not None:
            data = {**data, "csrfmiddlewaretoken": self.cookies.get("csrftoken", "")}
            body = urlencode(data)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://{HOST}:{WEB_PORT}{path}"
        start = time.perf_counter()
        conn = http.client.HTTPConnection(HOST, WEB_PORT, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            text = resp.read().decode("utf-8", "replace")
            for header in resp.msg.get_all("Set-Cookie") or []:
                jar = SimpleCookie()
                jar.load(header)
                for key, morsel in jar.items():
                    self.cookies[key] = morsel.value
            return Response(resp.status, text, resp.getheader("Location") or "", (time.perf_counter() - start) * 1000)
        except (OSError, http.client.HTTPException) as e:
            return Response(0, repr(e), "", (time.perf_counter() - start) * 1000)
        finally:
            conn.close()

    def login(self, username: str) -> bool:
        r = self.request("GET", "/accounts/login/")
        self.rec.add("login-page", r, r.status == 200)
        if r.status != 200:
            return False
        r = self.request("POST", "/accounts/login/", {"username": username, "password": PASSWORD})
        ok = r.status == 302 and "/leads/" in r.location
        self.rec.add("login", r, ok)
        return ok


LEAD_LINK = re.compile(r'href="/leads/(\d+)/"')
SELECT = r'<select name="{name}"[^>]*>(.*?)</select>'
OPTION = re.compile(r'<option value="(\d+)"')


def rep_loop(rec: Recorder, stop: threading.Event, username: str, seed: int) -> None:
    rnd = random.Random(seed)
    client = Client(rec)
    logged_in = False
    while not stop.is_set():
        if not logged_in:
            logged_in = client.login(username)
            if not logged_in:
                stop.wait(0.5)
                continue
        r = client.request("GET", "/leads/")
        if r.status == 302 and "/accounts/login/" in r.location:
            logged_in = False
            continue
        if rec.add("queue", r, r.status == 200) != "ok":
            stop.wait(0.3)
            continue
        ids = LEAD_LINK.findall(r.body)
        if not ids:
            stop.wait(0.5)
            continue
        pk = rnd.choice(ids)
        r = client.request("GET", f"/leads/{pk}/")
        if rec.add("lead", r, r.status == 200) != "ok":
            stop.wait(0.3)
            continue
        stop.wait(rnd.uniform(0.1, 0.4))  # reading the page
        note = f"Load test call {secrets.token_hex(3)}: left a voicemail"
        r = client.request("POST", f"/leads/{pk}/activity/", {"kind": "call", "outcome": note, "occurred_at": ""})
        rec.add("activity", r, r.status == 302 and r.location.endswith(f"/leads/{pk}/"))
        stop.wait(rnd.uniform(0.1, 0.4))


def intake_loop(rec: Recorder, stop: threading.Event, username: str, run_id: str, number: int) -> None:
    """POST new leads through the new-lead form, each with a unique marker email."""
    client = Client(rec)
    form: dict | None = None
    n = 0
    while not stop.is_set():
        if form is None:
            if not client.login(username):
                stop.wait(0.5)
                continue
            r = client.request("GET", "/leads/new/")
            if rec.add("intake-form", r, r.status == 200) != "ok":
                stop.wait(0.5)
                continue
            source = re.search(SELECT.format(name="source"), r.body, re.S)
            team = re.search(r'name="team" value="(\d+)"', r.body)
            form = {"source": OPTION.findall(source.group(1))[0], "team": team.group(1) if team else ""}
        n += 1
        marker = f"lt-{run_id}-{number}-{n}"
        data = {**form, "name": f"Load Lead {number}-{n}", "email": f"{marker}@loadtest.example",
                "company": "Loadtest Ltd", "phone": "", "title": "", "referred_by": "", "notes": ""}  # fmt: skip
        r = client.request("POST", "/leads/new/", data)
        match = re.search(r"/leads/(\d+)/$", r.location)
        ok = r.status == 302 and match is not None
        if ok:
            with rec.lock:
                rec.leads.append({"marker": marker, "pk": int(match.group(1)), "phase": rec.phase})
        elif r.status == 302 and "/accounts/login/" in r.location:
            form = None
        rec.add("intake", r, ok)
        stop.wait(0.2)


WEB_FORM = "/f/contact/"  # the demo's public web-to-lead form (intake app)
FILL_SECONDS = 1.2  # a visitor's typing; the form drops posts faster than WEBFORM_MIN_FILL_SECONDS


def web_intake_loop(rec: Recorder, stop: threading.Event, run_id: str, number: int) -> None:
    """Visitors: GET the public form (a fresh one-use token), type, POST. Success is the redirect
    to the thank-you page; each lead carries a unique marker email."""
    client = Client(rec)
    n = 0
    while not stop.is_set():
        r = client.request("GET", WEB_FORM)
        token = re.search(r'name="lf_t" value="([^"]+)"', r.body)
        if rec.add("web-form", r, r.status == 200 and token is not None) != "ok":
            stop.wait(0.5)
            continue
        stop.wait(FILL_SECONDS)
        n += 1
        marker = f"lt-{run_id}-{number}-{n}"
        data = {"name": f"Load Visitor {number}-{n}", "email": f"{marker}@loadtest.example", "phone": "",
                "company": "Loadtest Ltd", "job_title": "", "message": f"Load test inquiry {marker}",
                "lf_t": token.group(1), "lf_hp": ""}  # fmt: skip
        r = client.request("POST", WEB_FORM, data)
        ok = r.status == 302 and r.location.endswith(f"{WEB_FORM}thanks/")
        if ok:
            with rec.lock:
                rec.leads.append({"marker": marker, "pk": None, "phase": rec.phase})
        rec.add("intake", r, ok)


# --- Phases --------------------------------------------------------------------------------------


@dataclass
class Faults:
    pg_down_at: float = 0
    pg_up_at: float = 0
    pg_first_ok_after_up_s: float | None = None
    gunicorn_master_same: bool = False
    gunicorn_workers_same: bool = False
    redis_down_at: float = 0
    redis_up_at: float = 0
    probe_due_before_redis_back: bool = False
    probe_reminded_while_down: bool | None = None
    probe_reminded_after_s: float | None = None
    probe_notifications: int | None = None
    notes: list[str] = field(default_factory=list)


def load(rec: Recorder, args, run_id: str) -> tuple[threading.Event, list[threading.Thread]]:
    stop = threading.Event()
    threads = [
        threading.Thread(target=rep_loop, args=(rec, stop, REPS[i % len(REPS)], i), daemon=True)
        for i in range(args.reps)
    ]
    if args.intake_via == "web":
        threads += [
            threading.Thread(target=web_intake_loop, args=(rec, stop, run_id, i), daemon=True)
            for i in range(args.intake)
        ]
    else:
        threads += [
            threading.Thread(target=intake_loop, args=(rec, stop, REPS[i % len(REPS)], run_id, i), daemon=True)
            for i in range(args.intake)
        ]
    for t in threads:
        t.start()
    return stop, threads


def children(pid: int) -> set[int]:
    try:
        return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except OSError:
        return set()


PROBE_CREATE = """
import json
from datetime import timedelta
from django.utils import timezone
from followups.services import followup_add
from leads.models import Lead
lead = Lead.objects.filter(stage="lead", owner__username="ana").order_by("id").first()
fu = followup_add(lead=lead, owner=lead.owner, due_at=timezone.now() + timedelta(seconds={delay}),
                  kind="call", instruction="Load test probe: call back", by=None)
print(json.dumps({{"id": fu.pk, "due_at": fu.due_at.isoformat()}}))
"""

PROBE_STATE = """
import json
from django.utils import timezone
from followups.models import FollowUp, Notification
fu = FollowUp.objects.get(pk={pk})
n = Notification.objects.filter(key__startswith="fu:{pk}:reminder").count()
print(json.dumps({{"reminded": fu.reminded_at is not None, "due": fu.due_at <= timezone.now(), "notifications": n}}))
"""

LEADS_FOUND = """
import json, sys, time
from intake.models import WebFormSubmission
from leads.models import Lead
# The web form accepts, then processes: give the worker's drain (at most a minute) to make the
# leads of the last posts before counting them.
stop_at = time.monotonic() + 60
while WebFormSubmission.objects.filter(state="pending").exists() and time.monotonic() < stop_at:
    time.sleep(0.5)
wanted = json.load(open({path!r}))
emails = set(Lead.objects.filter(email__in=[w["marker"] + "@loadtest.example" for w in wanted]).values_list("email", flat=True))
ok = sum(1 for w in wanted if w["marker"] + "@loadtest.example" in emails)
marked = Lead.objects.filter(email__endswith="@loadtest.example", email__startswith="lt-{run_id}-").count()
print(json.dumps({{"found": ok, "marked_in_db": marked}}))
"""


def shell(stack: Stack, code: str) -> dict:
    out = stack.manage("shell", "-c", code, timeout=120)
    return json.loads(out.strip().splitlines()[-1])


def run(args) -> int:
    run_id = secrets.token_hex(3)
    stack = Stack()
    rec = Recorder()
    faults = Faults()
    failures: list[str] = []
    try:
        log(f"private stack in {stack.tmp}: PostgreSQL :{PG_PORT}, Redis :{REDIS_PORT}, gunicorn :{WEB_PORT}")
        stack.pg_init()
        stack.redis_start()
        log("migrate + seed_demo")
        stack.manage("migrate", "--noinput")
        stack.manage("seed_demo", f"--leads={args.leads}")
        gunicorn = stack.start("gunicorn", [str(BIN / "gunicorn"), "leadflow.wsgi", "--bind", f"{HOST}:{WEB_PORT}",
                                            "--workers", str(args.workers), "--timeout", "30", "--graceful-timeout", "5"])  # fmt: skip
        stack.supervise("worker", [str(BIN / "celery"), "-A", "leadflow", "worker", "-c", "2", "-Q", stack.queue,
                               "-n", f"loadtest-{run_id}@%h", "--loglevel=INFO", "--without-gossip",
                               "--without-mingle"])  # fmt: skip
        stack.supervise("beat", [str(BIN / "celery"), "-A", "leadflow", "beat", "--loglevel=INFO",
                             "-s", str(stack.tmp / "beat-schedule")])  # fmt: skip
        probe = Client(rec)
        if not wait_for(lambda: probe.request("GET", "/accounts/login/").status == 200, 30):
            raise RuntimeError("gunicorn did not answer:\n" + stack.tail("gunicorn"))
        workers_before = children(gunicorn.pid)
        if args.intake_via == "auto":
            args.intake_via = "web" if probe.request("GET", WEB_FORM).status == 200 else "rep"
        log(
            f"intake through {'the public web form ' + WEB_FORM if args.intake_via == 'web' else 'the reps new-lead form'}"
        )

        # 0. Warm-up (reported, not judged): reps log in, gunicorn workers load their code, the
        # worker sends the demo data's due reminders.
        rec.phase = "warmup"
        log(
            f"warm-up {args.warmup} s, then steady load for {args.duration} s: {args.reps} reps, {args.intake} intake threads"
        )
        stop, threads = load(rec, args, run_id)
        time.sleep(args.warmup)

        # 1. Steady load.
        rec.phase = "steady"
        time.sleep(args.duration)

        # 2. PostgreSQL stops for a few seconds under load.
        rec.phase = "postgres"
        time.sleep(3)
        log(f"stopping PostgreSQL for {args.pg_gap} s")
        faults.pg_down_at = rec.now()
        stack.pg_stop("fast")
        time.sleep(args.pg_gap)
        stack.pg_start()
        faults.pg_up_at = rec.now()
        log("PostgreSQL is back")
        time.sleep(20)

        # 3. Redis stops under load; a follow-up falls due meanwhile.
        rec.phase = "redis"
        time.sleep(3)
        log(f"stopping Redis for {args.redis_gap} s")
        faults.redis_down_at = rec.now()
        stack.redis_stop()
        made = shell(stack, PROBE_CREATE.format(delay=3))
        log(f"probe follow-up {made['id']} due at {made['due_at']}")
        time.sleep(max(0.0, args.redis_gap - (rec.now() - faults.redis_down_at)))
        state = shell(stack, PROBE_STATE.format(pk=made["id"]))
        faults.probe_due_before_redis_back = state["due"]
        faults.probe_reminded_while_down = state["reminded"]
        stack.redis_start()
        faults.redis_up_at = rec.now()
        log("Redis is back; waiting for the probe's reminder")
        back = time.monotonic()
        while time.monotonic() - back < 90:
            state = shell(stack, PROBE_STATE.format(pk=made["id"]))
            if state["reminded"]:
                faults.probe_reminded_after_s = round(time.monotonic() - back, 1)
                faults.probe_notifications = state["notifications"]
                break
            time.sleep(1)
        time.sleep(max(0.0, 10 - (time.monotonic() - back)))

        stop.set()
        for t in threads:
            t.join(35)
        rec.phase = "done"
        faults.gunicorn_master_same = gunicorn.poll() is None
        faults.gunicorn_workers_same = children(gunicorn.pid) == workers_before

        # Every lead answered with success is in the database.
        wanted = stack.tmp / "leads.json"
        wanted.write_text(json.dumps(rec.leads))
        found = shell(stack, LEADS_FOUND.format(path=str(wanted), run_id=run_id))

        report = build_report(rec, faults, found, args, stack.exits)
        failures = report["failures"]
        write_report(report)
    except KeyboardInterrupt:
        log("interrupted: cleaning up")
        failures = ["interrupted"]
    except Exception as e:
        log(f"FAILED: {e!r}")
        if isinstance(e, subprocess.CalledProcessError):
            print(e.stdout, e.stderr, file=sys.stderr)
        for name in ("gunicorn", "worker", "beat", "postgres"):
            tail = stack.tail(name, 15)
            if tail:
                print(f"--- {name} log ---\n{tail}", file=sys.stderr)
        failures = [repr(e)]
    finally:
        if failures:
            keep = ROOT / "loadtest" / "results" / "failed-run-logs"
            shutil.rmtree(keep, ignore_errors=True)
            keep.mkdir(parents=True)
            for path in [*stack.tmp.glob("*.log"), *stack.pgroot.glob("*.log")]:
                shutil.copy(path, keep / path.name)
            log(f"logs of the failed run kept in {keep.relative_to(ROOT)}/")
        stack.close()
        log("private stack stopped and removed")
    return 1 if failures else 0


# --- Report --------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 1)


def build_report(rec: Recorder, f: Faults, found: dict, args, exits: list[dict]) -> dict:
    rows = []
    for phase in ("warmup", "steady", "postgres", "redis"):
        samples = [s for s in rec.samples if s.phase == phase]
        duration = (max(s.at for s in samples) - min(s.at for s in samples)) if samples else 0
        for kind in sorted({s.kind for s in samples}):
            mine = [s for s in samples if s.kind == kind]
            ok_ms = [s.ms for s in mine if s.outcome == "ok"]
            errors = sum(1 for s in mine if s.outcome == "error")
            rows.append(
                {
                    "phase": phase,
                    "kind": kind,
                    "requests": len(mine),
                    "ok": len(ok_ms),
                    "503_page": sum(1 for s in mine if s.outcome == "503-page"),
                    "errors": errors,
                    "error_rate_pct": round(100 * errors / len(mine), 2) if mine else 0,
                    "p50_ms": pct(ok_ms, 50),
                    "p95_ms": pct(ok_ms, 95),
                    "rps": round(len(mine) / duration, 1) if duration else None,
                }
            )
    gap = [s for s in rec.samples if f.pg_down_at <= s.at - s.ms / 1000 and s.at <= f.pg_up_at]
    redis_gap = [s for s in rec.samples if f.redis_down_at <= s.at - s.ms / 1000 and s.at <= f.redis_up_at]
    after_pg = [s for s in rec.samples if s.at > f.pg_up_at and s.outcome == "ok"]
    f.pg_first_ok_after_up_s = round(min(s.at for s in after_pg) - f.pg_up_at, 2) if after_pg else None
    summary = {
        "pg_gap_seconds": round(f.pg_up_at - f.pg_down_at, 1),
        "pg_gap_requests": len(gap),
        "pg_gap_503_page": sum(1 for s in gap if s.outcome == "503-page"),
        "pg_gap_ok": sum(1 for s in gap if s.outcome == "ok"),
        "pg_gap_other_errors": sum(1 for s in gap if s.outcome == "error"),
        "pg_gap_error_statuses": sorted({s.status for s in gap if s.outcome == "error"}),
        "pg_first_ok_after_restart_s": f.pg_first_ok_after_up_s,
        "errors_outside_pg_gap": sum(
            1
            for s in rec.samples
            if s.outcome != "ok" and s.phase != "warmup" and not (f.pg_down_at <= s.at <= f.pg_up_at + 2)
        ),
        "tracebacks_in_bodies": len(rec.tracebacks),
        "gunicorn_not_restarted": f.gunicorn_master_same and f.gunicorn_workers_same,
        "redis_gap_seconds": round(f.redis_up_at - f.redis_down_at, 1),
        "redis_gap_requests": len(redis_gap),
        "redis_gap_ok": sum(1 for s in redis_gap if s.outcome == "ok"),
        "redis_gap_intake_ok": sum(1 for s in redis_gap if s.kind == "intake" and s.outcome == "ok"),
        "probe_due_before_redis_back": f.probe_due_before_redis_back,
        "probe_reminded_while_redis_down": f.probe_reminded_while_down,
        "probe_reminded_s_after_redis_back": f.probe_reminded_after_s,
        "probe_notifications": f.probe_notifications,
        "celery_process_exits": [f"{e['name']} at {e['at']} (status {e['status']}), restarted" for e in exits],
        "leads_posted_ok": len(rec.leads),
        "leads_posted_ok_by_phase": {
            p: sum(1 for x in rec.leads if x["phase"] == p) for p in ("steady", "postgres", "redis")
        },
        "leads_found": found["found"],
        "leads_with_marker_in_db": found["marked_in_db"],
    }
    failures = []
    steady = [s for s in rec.samples if s.phase == "steady"]
    if not steady or any(s.outcome != "ok" for s in steady):
        failures.append("errors under steady load")
    if summary["pg_gap_503_page"] == 0:
        failures.append("no request met the 503 page while PostgreSQL was down")
    if summary["pg_gap_other_errors"]:
        failures.append("requests in the PostgreSQL gap got something other than the 503 page")
    if summary["errors_outside_pg_gap"]:
        failures.append("errors outside the PostgreSQL gap")
    if summary["tracebacks_in_bodies"]:
        failures.append("a response body carried a traceback")
    if summary["pg_first_ok_after_restart_s"] is None:
        failures.append("the app did not recover after PostgreSQL came back")
    if not summary["gunicorn_not_restarted"]:
        failures.append("gunicorn or its workers restarted")
    if summary["redis_gap_intake_ok"] == 0:
        failures.append("no lead was saved while Redis was down")
    if summary["leads_found"] != summary["leads_posted_ok"]:
        failures.append("a lead answered with success is missing from the database")
    if not summary["probe_due_before_redis_back"] or summary["probe_reminded_while_redis_down"]:
        failures.append("the probe did not fall due during the Redis outage (test set-up)")
    if summary["probe_reminded_s_after_redis_back"] is None or summary["probe_notifications"] != 1:
        failures.append("reminders did not resume (exactly once) after Redis came back")
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "load_avg": os.getloadavg(), "python": platform.python_version()},
        "config": {
            k: getattr(args, k)
            for k in ("warmup", "duration", "reps", "intake", "intake_via", "workers", "leads", "pg_gap", "redis_gap")
        },
        "rows": rows,
        "summary": summary,
        "tracebacks": rec.tracebacks[:5],
        "celery_exit_reasons": [e["reason"] for e in exits],
        "failures": failures,
    }


def write_report(report: dict) -> None:
    lines = [
        "# LeadFlow load test (`make loadtest`)",
        "",
        f"Generated {report['generated_at']}; {report['machine']['cpus']} CPUs, load average "
        f"{', '.join(f'{x:.2f}' for x in report['machine']['load_avg'])} at the end. Config: "
        + ", ".join(f"{k}={v}" for k, v in report["config"].items()),
        "",
        "| phase | kind | requests | req/s | ok | 503 page | errors | error % | p50 ms | p95 ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["rows"]:
        lines.append(
            f"| {r['phase']} | {r['kind']} | {r['requests']} | {r['rps']} | {r['ok']} | {r['503_page']} | "
            f"{r['errors']} | {r['error_rate_pct']} | {r['p50_ms']} | {r['p95_ms']} |"
        )
    lines += ["", "| check | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in report["summary"].items()]
    for reason in dict.fromkeys(report["celery_exit_reasons"]):
        lines += ["", f"A Celery process died and was restarted by the load test's supervisor: `{reason[:300]}`"]
    restarts = len(report["celery_exit_reasons"])
    verdict = "FAILED — " + "; ".join(report["failures"]) if report["failures"] else "all checks passed"
    if restarts:
        verdict += f" (with {restarts} Celery process restart(s) by the supervisor)"
    lines += ["", f"**Result: {verdict}**", ""]
    text = "\n".join(lines)
    print("\n" + text)
    out = ROOT / "loadtest" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.md").write_text(text)
    (out / "latest.json").write_text(json.dumps(report, indent=2) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--warmup", type=int, default=10, help="seconds of unjudged warm-up load")
    parser.add_argument("--duration", type=int, default=60, help="seconds of steady load (default 60)")
    parser.add_argument("--reps", type=int, default=6, help="simulated reps (threads)")
    parser.add_argument("--intake", type=int, default=2, help="threads posting new leads")
    parser.add_argument(
        "--intake-via",
        choices=["auto", "web", "rep"],
        default="auto",
        help="new leads through the public web form (web), the reps' new-lead form (rep), or web when it exists (auto)",
    )
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (2-4)")
    parser.add_argument("--leads", type=int, default=200, help="demo leads to seed")
    parser.add_argument("--pg-gap", type=float, default=5, help="seconds PostgreSQL stays down")
    parser.add_argument("--redis-gap", type=float, default=15, help="seconds Redis stays down")
    args = parser.parse_args()

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGALRM, on_term)
    signal.alarm(DEADLINE_SECONDS)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
