"""lead_intake / lead_intake_many: normalise, dedupe per channel policy, assign, create."""

from __future__ import annotations

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.utils import timezone

from leads import services
from leads.models import Activity, Channel, DuplicatePolicy, Lead, OwnerNotice, StageChange
from tests.factories import make_lead, stage_extras

ANA = {"name": "Ana Pérez", "email": "ana.perez@example.com", "phone": "+1 415 555 0134"}


def _intake(channel, data, source, team, by=None, owner=None):
    return services.lead_intake(channel=channel, data=data, source=source, by=by, team=team, owner=owner)


@pytest.fixture
def ana(rep, team, source):
    return make_lead(owner=rep, team=team, source=source, **ANA)


@pytest.mark.parametrize(
    "variant",
    [
        {"email": "  ANA.Perez@Example.COM "},
        {"email": "", "phone": "(415) 555-0134"},
        {"email": "someone-else@example.com", "phone": "415.555.0134"},
        {"email": "", "phone": "+14155550134"},
    ],
    ids=["email-case-and-spaces", "phone-formatting", "phone-only-matches", "phone-e164"],
)
@pytest.mark.parametrize("channel", [Channel.WEB, Channel.API])
def test_web_and_api_attach_a_known_person_as_a_new_inquiry(ana, team, source, channel, variant):
    result = _intake(channel, {"name": "Ana P.", **variant}, source, team)

    assert result.outcome == services.IntakeOutcome.ATTACHED
    assert result.lead == ana
    assert Lead.objects.count() == 1
    note = Activity.objects.get(lead=ana)
    assert note.kind == Activity.Kind.NOTE
    assert note.outcome.startswith("New inquiry via")
    assert OwnerNotice.objects.filter(lead=ana, recipient=ana.owner).exists()


@pytest.mark.parametrize("channel", [Channel.IMPORT, Channel.MANUAL])
def test_import_and_typed_leads_are_created_and_flagged(ana, rep, team, source, channel):
    result = _intake(channel, {"name": "Ana", "email": "Ana.Perez@EXAMPLE.com"}, source, team, by=rep, owner=rep)

    assert result.outcome == services.IntakeOutcome.FLAGGED
    assert result.lead != ana
    result.lead.refresh_from_db()
    assert result.lead.possible_duplicate_of == ana
    assert Lead.objects.count() == 2


def test_the_admin_policy_overrides_the_default(ana, team, source):
    DuplicatePolicy.objects.create(channel=Channel.WEB, action=DuplicatePolicy.Action.FLAG)
    result = _intake(Channel.WEB, {"name": "Ana", "email": ana.email}, source, team)
    assert result.outcome == services.IntakeOutcome.FLAGGED
    DuplicatePolicy.objects.create(channel=Channel.IMPORT, action=DuplicatePolicy.Action.ATTACH)
    result = services.lead_intake_many(
        channel=Channel.IMPORT, rows=[{"name": "Ana", "phone": "4155550134"}], source=source, team=team, by=None
    )[0]
    assert result.outcome == services.IntakeOutcome.ATTACHED


def test_an_attached_inquiry_keeps_everything_it_said(ana, team, source):
    _intake(
        Channel.WEB, {"name": "Ana", "email": ana.email, "company": "Kite & Co", "notes": "Need 5 seats"}, source, team
    )
    note = Activity.objects.get(lead=ana).outcome
    assert "Kite & Co" in note and "Need 5 seats" in note


def test_an_inquiry_prefers_the_open_lead_among_several_matches(rep, team, source):
    old = make_lead(owner=rep, team=team, source=source, **ANA)
    services.lead_change_stage(
        lead=old, to_stage=Lead.Stage.DISQUALIFIED, by=rep, reason="No budget", **stage_extras("disqualified")
    )
    newer = services.lead_intake_many(
        channel=Channel.IMPORT, rows=[{**ANA, "name": "Ana again"}], source=source, team=team, by=rep, owner=rep
    )[0].lead
    result = _intake(Channel.WEB, {"name": "Ana", "email": ANA["email"]}, source, team)
    assert result.lead == newer


def test_a_merged_away_lead_is_never_matched(ana, rep, team, source, admin_user):
    other = make_lead(owner=rep, team=team, source=source, name="Ana 2", email="ana2@example.com")
    services.lead_merge(survivor=other, merged=ana, field_choices={}, by=admin_user)
    result = _intake(Channel.WEB, {"name": "Ana", "email": ANA["email"]}, source, team)
    assert result.outcome == services.IntakeOutcome.CREATED


def test_bad_input_reports_every_field_and_saves_nothing(team, source):
    with pytest.raises(ValidationError) as exc:
        _intake(Channel.API, {"name": " ", "email": "not-an-email", "phone": "call me"}, source, team)
    assert set(exc.value.message_dict) == {"name", "email", "phone"}
    with pytest.raises(ValidationError) as exc:
        _intake(Channel.API, {"name": "Bo"}, source, team)
    assert "email" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        _intake(Channel.API, {"name": "Bo\x00", "email": "bo@example.com"}, source, team)
    assert "name" in exc.value.message_dict
    assert not Lead.objects.exists()


def test_a_team_is_required(source):
    with pytest.raises(ValidationError) as exc:
        _intake(Channel.API, {"name": "Bo", "email": "bo@example.com"}, source, None)
    assert "team" in exc.value.message_dict


def test_a_batch_rejects_bad_rows_and_imports_the_others(rep, team, source):
    rows = [
        {"name": "Good One", "email": "one@example.com"},
        {"name": "", "email": "two@example.com"},
        {"name": "Bad Phone", "phone": "12"},
        {"name": "Good Two", "phone": "+44 20 7946 0958"},
        {"name": "X" * 201, "email": "long@example.com"},
    ]
    results = services.lead_intake_many(channel=Channel.IMPORT, rows=rows, source=source, team=team, by=rep, owner=rep)
    assert [type(r).__name__ for r in results] == [
        "IntakeResult",
        "ValidationError",
        "ValidationError",
        "IntakeResult",
        "ValidationError",
    ]
    assert set(Lead.objects.values_list("name", flat=True)) == {"Good One", "Good Two"}


def test_a_batch_finds_duplicates_within_itself(rep, team, source):
    rows = [
        {"name": "First", "email": "same@example.com"},
        {"name": "Second", "email": "SAME@example.com"},
        {"name": "Third", "phone": "415 555 0199"},
        {"name": "Fourth", "phone": "+1-415-555-0199"},
    ]
    results = services.lead_intake_many(channel=Channel.IMPORT, rows=rows, source=source, team=team, by=rep, owner=rep)
    assert [r.outcome for r in results] == ["created", "flagged", "created", "flagged"]
    assert Lead.objects.get(name="Second").possible_duplicate_of == Lead.objects.get(name="First")
    assert Lead.objects.get(name="Fourth").possible_duplicate_of == Lead.objects.get(name="Third")

    DuplicatePolicy.objects.create(channel=Channel.API, action=DuplicatePolicy.Action.ATTACH)
    results = services.lead_intake_many(
        channel=Channel.API,
        rows=[{"name": "New", "email": "new@example.com"}, {"name": "New again", "email": "new@example.com"}],
        source=source,
        team=team,
        by=rep,
        owner=rep,
    )
    assert [r.outcome for r in results] == ["created", "attached"]
    assert results[1].lead == results[0].lead
    assert Activity.objects.filter(lead=results[0].lead, kind=Activity.Kind.NOTE).count() == 1


def _rows_about(lead: Lead) -> dict[str, list[dict]]:
    """Every row of every reverse relation of Lead that points at `lead`, minus ids and times."""
    skip = {"id", "lead", "lead_id", "changed_at", "assigned_at", "created_at", "occurred_at"}
    out = {}
    for rel in Lead._meta.related_objects:
        if rel.many_to_many:
            out[rel.name] = sorted(str(o) for o in getattr(lead, rel.get_accessor_name()).all())
            continue
        rows = rel.related_model._base_manager.filter(**{rel.field.name: lead})
        out[f"{rel.related_model._meta.label}.{rel.field.name}"] = [
            {f.attname: getattr(row, f.attname) for f in row._meta.concrete_fields if f.attname not in skip}
            for row in rows
            if isinstance(row, Model)
        ]
    return out


def test_the_bulk_path_writes_what_lead_create_writes(rep, team, source):
    """lead_intake_many bulk-inserts what lead_create saves one by one. If lead_create gains a
    side effect (a row in a new relation, e.g. the first follow-ups), this fails until the
    bulk path does the same."""
    data = {"name": "Same", "email": "same@example.com", "phone": "+1 415 555 0101", "company": "Co", "notes": "Hi"}
    # One frozen instant, so the clocks and due times both paths compute can be compared as they are.
    with time_machine.travel(timezone.now(), tick=False):
        _both_paths_write_the_same(data, rep, team, source)


def _both_paths_write_the_same(data, rep, team, source):
    one = services.lead_intake(channel=Channel.IMPORT, data=data, source=source, by=rep, team=team, owner=rep).lead
    Lead.objects.filter(pk=one.pk).update(possible_duplicate_of=None, email="gone@example.com", phone="")
    bulk = services.lead_intake_many(channel=Channel.IMPORT, rows=[data], source=source, team=team, by=rep, owner=rep)[
        0
    ].lead
    one.refresh_from_db()
    bulk.refresh_from_db()

    def fields(lead):
        skip = {
            "id",
            "email",
            "phone",
            "possible_duplicate_of_id",
            "created_at",
            "updated_at",
            "received_at",
            "stage_changed_at",
        }
        return {f.attname: getattr(lead, f.attname) for f in Lead._meta.concrete_fields if f.attname not in skip}

    assert fields(one) == fields(bulk)
    assert _rows_about(one) == _rows_about(bulk)
    assert StageChange.objects.filter(lead=bulk).count() == 1


def test_a_formatted_phone_longer_than_its_stored_form_is_accepted(team, source):
    raw = "+1 (415) 555 - 0134, extension 1234"
    assert len(raw) > Lead._meta.get_field("phone").max_length
    result = _intake(Channel.API, {"name": "Bo", "phone": raw}, source, team)
    assert result.lead.phone == "+14155550134"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_posts_of_one_person_at_the_same_instant_make_one_lead(rep, team, source):
    """The advisory lock on the normalised email serialises them: the second finds the first."""
    import threading

    from django.db import connection

    barrier, outcomes = threading.Barrier(2), []

    def post(email):
        try:
            barrier.wait()
            outcomes.append(_intake(Channel.WEB, {"name": "Ana", "email": email}, source, team).outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(e,)) for e in ("ana@example.com", "ANA@Example.com ")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["attached", "created"]
    assert Lead.objects.count() == 1
