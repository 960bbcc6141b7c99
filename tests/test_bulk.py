"""leadflow.bulk writes, set-based, exactly the rows the ORM writes (defaults, auto_now_add, types).

lead_create and the CSV import both write through it, so the import's guard test
(tests/leads/test_intake.py) compares two uses of it; this one compares it with the ORM.
"""

from datetime import timedelta

import pytest
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
