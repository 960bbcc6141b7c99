"""The dispatcher's cost does not grow with the follow-ups that are not due: each claim query is
an index range scan on its partial index that stops at `now` (PostgreSQL's plan, measured)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from followups import services
from followups.models import FollowUp, FollowUpPolicy, Kind

NOT_DUE = 20_000
DUE = 20  # under one batch, so the dispatcher also runs its other two claim queries


def plan_nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


@pytest.mark.postgres
def test_each_claim_query_reads_its_partial_index_and_stops_at_now(lead, policy):
    now = timezone.now()
    rows = [
        FollowUp(
            lead=lead, owner=lead.owner, due_at=now + timedelta(minutes=i + 1), kind=Kind.CALL, instruction="later"
        )
        for i in range(NOT_DUE)
    ]
    rows += [
        FollowUp(lead=lead, owner=lead.owner, due_at=now - timedelta(minutes=i + 1), kind=Kind.CALL, instruction="due")
        for i in range(DUE)
    ]
    # Already reminded rows waiting for their escalation time, and rows others hold claims on.
    rows += [
        FollowUp(
            lead=lead,
            owner=lead.owner,
            due_at=now + timedelta(hours=i),
            reminded_at=now,
            kind=Kind.CALL,
            instruction="x",
        )
        for i in range(NOT_DUE // 3)
    ]
    FollowUp.objects.bulk_create(rows, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE followups_followup")

    with CaptureQueriesContext(connection) as ctx:
        assert services.followup_dispatch_batch(now=now) == DUE
    claims = [q["sql"] for q in ctx.captured_queries if "SKIP LOCKED" in q["sql"]]
    assert len(claims) == 3  # due reminders, due escalations, expired leases

    # The next tick's work: a fresh set of due rows, so the plans below return real rows.
    FollowUp.objects.bulk_create(
        FollowUp(lead=lead, owner=lead.owner, due_at=now - timedelta(seconds=i + 1), kind=Kind.CALL, instruction="next")
        for i in range(DUE)
    )

    expected_index = ["followup_due_idx", "followup_escalation_idx", "followup_lease_idx"]
    report = []
    for sql, index in zip(claims, expected_index, strict=True):
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql)
            result = cursor.fetchone()[0]
        (plan,) = json.loads(result) if isinstance(result, str) else result
        nodes = list(plan_nodes(plan["Plan"]))
        scans = [n for n in nodes if "Scan" in n["Node Type"]]
        report.append(
            (index, plan["Execution Time"], [(n["Node Type"], n.get("Index Name"), n["Actual Rows"]) for n in scans])
        )
        assert [n["Node Type"] for n in scans] == ["Index Scan"], report
        assert scans[0]["Index Name"] == index
        # The scan returned at most one batch of rows: the ~27,000 rows not due are never read.
        assert scans[0]["Actual Rows"] <= FollowUpPolicy.load().batch_size
        assert scans[0].get("Rows Removed by Filter", 0) == 0
        assert plan["Execution Time"] < 50  # ms; a sequential scan of this table takes longer
    assert report[0][2][0][2] == DUE  # the due scan found exactly the due rows
    print("\nclaim query plans (index, ms, scans):", *report, sep="\n  ")
