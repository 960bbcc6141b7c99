"""Small helpers every benchmark part shares: percentiles, markdown tables, machine facts."""

from __future__ import annotations

import math
import os
import platform
import statistics
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
