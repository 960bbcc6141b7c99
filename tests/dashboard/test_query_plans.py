"""On PostgreSQL the dashboard's heaviest aggregates can be read from covering indexes alone
(index-only scans), which is what makes the live figures affordable at a million leads: each
query below names only columns its index holds. A column added to one of them (say, late_q in
place of missed_q, which repeats the judged conditions on recycles_lead) silently sends it back
to the table; these tests catch that."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.dashboard.test_discipline_and_qualification import _build, fixture  # noqa: F401 (a fixture)

pytestmark = pytest.mark.postgres

# (a fragment that picks the query out of dashboard_build's, the first that has it; the index it
# must read alone)
CASES = [
    # The judged follow-ups due in the range (discipline: due, on time, late, agreed, kept, broken).
    ('COUNT(DISTINCT "followups_followup"."lead_id") FILTER', "followup_worked_due_idx"),
    # Leads with an overdue follow-up / open leads with a pending one (semi-joins, one UNION ALL).
    ("UNION ALL", "followup_lead_pending_idx"),
    # The received cohort's speed-to-lead percentiles.
    ('PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM ("leads_lead"', "lead_received_idx"),
    # The cohort's time in stage (a window over its history).
    ('OVER (PARTITION BY "leads_stagechange"."lead_id"', "stagechange_lead_idx"),
    # Manager overrides in the range.
    ('AS "n", COUNT(DISTINCT "leads_stagechange"."lead_id") AS "leads"', "stagechange_override_idx"),
]


def _plan(sql: str) -> str:
    with connection.cursor() as cursor:
        # A few rows make a sequential scan the cheapest plan; what we check is that the index
        # *can* serve the query alone, so the planner is told to avoid the table reads.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.usefixtures("fixture")
@pytest.mark.parametrize(("fragment", "index"), CASES)
def test_on_postgres_the_live_aggregates_read_their_covering_index_alone(manager, fragment, index):
    with CaptureQueriesContext(connection) as ctx:
        _build(manager)
    sql = next(q["sql"] for q in ctx.captured_queries if fragment in q["sql"])
    plan = _plan(sql)
    assert f"Index Only Scan using {index} " in plan or f"Index Only Scan Backward using {index} " in plan, plan
