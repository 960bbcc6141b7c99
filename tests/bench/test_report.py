"""The benchmark report's machine-speed line: the same fixed work timed before and after a run,
so two runs' figures are compared on the machines' speed first."""

from __future__ import annotations

import pytest
from django.db import connection

from bench import report
from bench.run import render


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_speed_probe_times_python_and_postgresql_work():
    with connection.cursor() as cursor:
        speed = report.speed_probe(cursor, runs=3)
    assert set(speed) == {"python_ms", "postgres_ms"}
    # A real loop and a real statement take milliseconds on any machine, not nothing nor minutes.
    assert 1 < speed["python_ms"] < 10_000
    assert 1 < speed["postgres_ms"] < 10_000


def test_the_report_shows_the_speed_before_and_after_the_run_and_before_each_part():
    meta = {
        "n_leads": 1000,
        "date": "2026-12-01 12:00 UTC",
        "machine": {"cpu": "Test CPU", "cores": 2, "memory_gb": 4.0, "os": "Linux", "python": "3.11.7"},
        "load_average": {"before": [0.5, 0.5, 0.5], "after": [1.0, 1.0, 1.0]},
        "speed": {
            "before": {"python_ms": 61.5, "postgres_ms": 104.2},
            "after": {"python_ms": 63.0, "postgres_ms": 99.8},
        },
        "prewarm": None,
        "seed": {"seeded_seconds": 10.0, "reused": True, "rows": "leads 1,000"},
    }
    part = {
        "title": "Pages",
        "markdown": "the table",
        "checks": [],
        "speed_before": {"python_ms": 70, "postgres_ms": 90},
    }
    report_text = render(meta, {"pages": part})
    assert "before / after: Python 61.5 / 63.0, PostgreSQL 104.2 / 99.8" in report_text
    assert "## Pages\n\nMachine speed before this part: Python 70 ms, PostgreSQL 90 ms.\n\nthe table" in report_text
