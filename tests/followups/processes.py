"""Real Celery worker and beat processes (and a private redis-server) for the fault tests.

Every process runs in its own session so it can be killed with its children; `Cluster.stop()`
kills whatever is left and is called from a `finally`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connection

REPO = Path(settings.BASE_DIR)
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/4"
# Ports this suite may give its own redis-server (never the shared 6379).
PRIVATE_REDIS_PORTS = range(6390, 6395)


def wait_for(condition: Callable[[], bool], *, timeout: float, every: float = 0.2, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def redis_reachable(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except Exception:
        return False


def subprocess_database_url() -> str:
    """The URL of the database pytest created (test_<name>), for the subprocesses."""
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class Cluster:
    """Workers and beats sharing one test queue, one Redis URL and one mail folder."""

    def __init__(self, tmp_path: Path, *, redis_url: str, **env: str):
        self.tmp = tmp_path
        self.redis_url = redis_url
        self.queue = f"lf-test-{uuid.uuid4().hex[:10]}"
        self.mail_dir = tmp_path / "mail"
        self.mail_dir.mkdir()
        self.procs: dict[str, subprocess.Popen] = {}
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "leadflow.settings",
            "DATABASE_URL": subprocess_database_url(),
            "REDIS_URL": redis_url,
            "CELERY_QUEUE": self.queue,
            "EMAIL_BACKEND": "tests.followups.mailbox.FileBackend",
            "EMAIL_FILE_PATH": str(self.mail_dir),
            "FOLLOWUP_TICK_SECONDS": "1",
            "FOLLOWUP_LEASE_SECONDS": "5",
            "FOLLOWUP_DISPATCH_BUDGET_SECONDS": "20",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **env,
        }

    def _start(self, name: str, args: list[str], **env: str) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "leadflow", *args],
            cwd=REPO,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.procs[name] = proc
        return proc

    def worker(self, name: str, **env: str) -> subprocess.Popen:
        return self._start(
            name,
            [
                "worker",
                "--pool=prefork",
                "--concurrency=1",
                "--loglevel=WARNING",
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
                f"--hostname={self.queue}-{name}@%h",
            ],
            **env,
        )

    def beat(self, name: str) -> subprocess.Popen:
        schedule = self.tmp / f"{name}-schedule"
        return self._start(name, ["beat", "--loglevel=WARNING", f"--schedule={schedule}"])

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)

    def stop(self) -> None:
        for name in list(self.procs):
            self.kill(name, signal.SIGKILL)
        self.clean_redis()

    def clean_redis(self) -> None:
        """Drop this run's keys (its queue, bindings, pidboxes and unacked messages)."""
        if not redis_reachable(self.redis_url):
            return
        import redis

        r = redis.Redis.from_url(self.redis_url)
        for key in r.scan_iter(f"*{self.queue}*"):
            r.delete(key)
        for tag, payload in r.hscan_iter("unacked"):
            if self.queue.encode() in payload:
                r.hdel("unacked", tag)
                r.zrem("unacked_index", tag)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.tmp.glob("*.log")))


def free_private_port() -> int:
    for port in PRIVATE_REDIS_PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 6390-6394 for a private redis-server")


class PrivateRedis:
    """A redis-server of our own, to stop and restart at will."""

    def __init__(self, tmp_path: Path):
        self.port = free_private_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.tmp = tmp_path
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(lambda: redis_reachable(self.url), timeout=10, what=f"redis-server on {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None
