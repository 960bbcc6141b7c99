"""leadflow.bulk writes, set-based, exactly the rows the ORM writes (defaults, auto_now_add, types).

lead_create and the CSV import both write through it, so the import's guard test
(tests/leads/test_intake.py) compares two uses of it; this one compares it with the ORM.
"""

from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from followups.models import FollowUp, SlaClock
from leadflow.bulk import insert_objects, insert_rows
from leads.models import Assignment, Lead, StageChange
from tests.factories import make_lead

SKIP = {"id", "created_at", "updated_at"}


def _values(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields if f.attname not in SKIP}


@pytest.fixture
def two_leads(rep, team, source):
    leads = [make_lead(owner=rep, team=team, source=source) for _ in range(2)]
    SlaClock.objects.filter(lead__in=leads).delete()  # one per lead: the test writes its own
    return leads


def test_insert_rows_writes_what_the_orm_writes(two_leads, rep):
    now = timezone.now()
    orm_lead, raw_lead = two_leads
    cases = [
        (StageChange, {"from_stage": "", "to_stage": "lead", "changed_by_id": rep.pk, "changed_at": now}),
        (Assignment, {"to_owner_id": rep.pk, "assigned_by_id": None, "assigned_at": now, "reason": "round robin"}),
        (SlaClock, {"started_at": now, "owner_due_at": now, "manager_due_at": now, "next_alert_at": now}),
        (
            FollowUp,
            {"owner_id": rep.pk, "due_at": now + timedelta(days=1), "kind": "email", "instruction": "Write"},
        ),
    ]
    for model, row in cases:
        orm = model.objects.create(lead_id=orm_lead.pk, **row)
        insert_rows(model, [{"lead_id": raw_lead.pk, **row}])
        raw = model.objects.get(lead_id=raw_lead.pk) if model is SlaClock else model.objects.latest("pk")
        orm.refresh_from_db()
        assert {**_values(raw), "lead_id": None} == {**_values(orm), "lead_id": None}, model
        if hasattr(raw, "created_at"):
            assert raw.created_at is not None


def test_insert_objects_saves_instances_as_bulk_create_does(rep, team, source):
    now = timezone.now()

    def new(name):
        return Lead(name=name, email=f"{name}@example.com", source=source, team=team, owner=rep,
                    stage_changed_at=now, received_at=now)  # fmt: skip

    [orm] = Lead.objects.bulk_create([new("orm")])
    raws = [new("raw1"), new("raw2")]
    insert_objects(raws)
    assert [r.pk for r in raws] == list(
        Lead.objects.filter(name__in=["raw1", "raw2"]).order_by("name").values_list("pk", flat=True)
    )
    assert all(not r._state.adding and r.created_at is not None for r in raws)
    stored = Lead.objects.get(pk=raws[0].pk)
    ignore = {"name": None, "email": None}
    orm.refresh_from_db()
    assert {**_values(stored), **ignore} == {**_values(orm), **ignore}


def test_insert_rows_keeps_awkward_values_as_they_are(two_leads, rep):
    """Quotes, braces, commas, backslashes, line ends, "NULL" as a word, empty strings, NULLs,
    JSON and UUIDs come back exactly as given, row by row (PostgreSQL receives each column as
    one array literal)."""
    import uuid

    now = timezone.now()
    texts = ['say "hi", {then} go', 'back\\slash \\" end', "line\nbreak\r\ttab", "NULL", "", "naïve café ✓"]
    rows = [
        {"lead_id": two_leads[0].pk, "from_stage": "", "to_stage": "lead", "changed_at": now, "reason": text}
        for text in texts
    ]
    rows[0]["evaluation"] = {"rule": 'a "b" {c}', "passed": False, "list": [1, None, "x\\y"]}
    rows[1]["changed_by_id"] = rep.pk
    insert_rows(StageChange, rows)
    stored = list(StageChange.objects.filter(lead=two_leads[0], to_stage="lead", from_stage="").order_by("pk"))[-6:]
    assert [s.reason for s in stored] == texts
    assert stored[0].evaluation == rows[0]["evaluation"] and stored[2].evaluation is None
    assert [s.changed_by_id for s in stored[:3]] == [None, rep.pk, None]

    token = uuid.uuid4()
    later = now + timedelta(minutes=5)
    insert_rows(
        FollowUp,
        [
            {"lead_id": two_leads[1].pk, "due_at": now, "instruction": "a", "lease_until": later, "claim_token": token},
            {"lead_id": two_leads[1].pk, "due_at": later, "instruction": "b"},
        ],
    )
    a, b = FollowUp.objects.filter(lead=two_leads[1]).order_by("instruction")
    assert (a.claim_token, a.lease_until, a.due_at) == (token, later, now)
    assert (b.claim_token, b.lease_until, b.due_at) == (None, None, later)


@pytest.mark.postgres
def test_insert_rows_refuses_a_nul_character_as_postgresql_does(two_leads):
    with pytest.raises(ValueError):
        insert_rows(
            StageChange,
            [
                {
                    "lead_id": two_leads[0].pk,
                    "from_stage": "",
                    "to_stage": "lead",
                    "changed_at": timezone.now(),
                    "reason": "a\x00b",
                }
            ],  # fmt: skip
        )


def test_insert_rows_can_skip_rows_that_break_a_unique_constraint(rep):
    from followups.models import Notification

    now = timezone.now()

    def row(key, text):
        return {"user_id": rep.pk, "kind": "reminder", "key": key, "text": text, "created_at": now}

    insert_rows(Notification, [row("a", "first")])
    insert_rows(Notification, [row("b", "new"), row("a", "second"), row("c", "new")], ignore_conflicts=True)
    assert dict(Notification.objects.values_list("key", "text")) == {"a": "first", "b": "new", "c": "new"}
    with pytest.raises(IntegrityError):
        insert_rows(Notification, [row("a", "third")])
