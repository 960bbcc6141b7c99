"""Small helpers every benchmark part shares: percentiles, markdown tables, machine facts."""

from __future__ import annotations

import math
import os
import platform
import statistics
import time
from collections.abc import Iterable, Sequence
from typing import Any


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100): a value that was really observed."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def fmt_ms(seconds: float) -> str:
    if seconds != seconds:  # NaN
        return "–"
    ms = seconds * 1000
    return f"{ms:.1f}" if ms < 100 else f"{ms:.0f}"


def md_table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return "\n".join(lines)


def check(measure: str, value: float | int | None, target: str, met: bool | None, unit: str = "") -> dict:
    """One line of the targets summary. `met` None = not measured (skipped)."""
    return {"measure": measure, "value": value, "unit": unit, "target": target, "met": met}


def mark(met: bool | None) -> str:
    return "–" if met is None else ("✅" if met else "❌")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _memory_gb() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def machine(cursor=None) -> dict:
    """Where the figures come from: CPU, cores, memory, OS, Python, PostgreSQL and its settings."""
    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }
    if cursor is not None:
        cursor.execute("SELECT version()")
        info["postgresql"] = cursor.fetchone()[0].split(" on ")[0]
        settings = {}
        for name in ("shared_buffers", "work_mem", "effective_cache_size", "random_page_cost", "jit"):
            cursor.execute(f"SHOW {name}")
            settings[name] = cursor.fetchone()[0]
        info["postgresql_settings"] = settings
    return info


def machine_line(info: dict) -> str:
    line = f"{info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB RAM, {info['os']}, Python {info['python']}"
    if "postgresql" in info:
        pg = info["postgresql_settings"]
        line += (
            f", {info['postgresql']} (shared_buffers {pg['shared_buffers']}, work_mem {pg['work_mem']},"
            f" random_page_cost {pg['random_page_cost']})"
        )
    return line


def _python_probe_work() -> int:
    """Fixed pure-Python work of the kind a request does (formatting, dict look-ups, calls)."""
    counts: dict[str, int] = {}
    for i in range(100_000):
        key = f"k{i % 1000}"
        counts[key] = counts.get(key, 0) + len(key)
    return len(counts)


def speed_probe(cursor, runs: int = 5) -> dict[str, float]:
    """How fast this machine does the same fixed work right now, in ms (lower is faster), each
    the median of `runs`: a pure-Python loop (this process's CPU time) and a PostgreSQL
    statement that only computes (wall time on the cursor, no table read).

    The benchmark's figures move with the machine: one session's run of unchanged code was 2–3×
    slower than the run before, on a machine whose CPU model differed though its kernel's host
    name did not. Compare these two numbers before comparing two runs' figures."""
    python, postgres = [], []
    for _ in range(runs):
        t0 = time.process_time()
        _python_probe_work()
        python.append(time.process_time() - t0)
        t0 = time.perf_counter()
        cursor.execute("SELECT count(*) FROM generate_series(1, 500000)")
        cursor.fetchone()
        postgres.append(time.perf_counter() - t0)
    return {"python_ms": round(median(python) * 1000, 1), "postgres_ms": round(median(postgres) * 1000, 1)}


def speed_text(speed: dict[str, float]) -> str:
    return f"Python {speed['python_ms']} ms, PostgreSQL {speed['postgres_ms']} ms"


def speed_line(speed: dict[str, dict[str, float]]) -> str:
    before, after = speed["before"], speed["after"]
    return (
        f"Python {before['python_ms']} / {after['python_ms']},"
        f" PostgreSQL {before['postgres_ms']} / {after['postgres_ms']}"
    )
