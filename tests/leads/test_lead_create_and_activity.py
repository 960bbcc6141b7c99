from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from leads import services
from leads.models import Activity, Assignment, Lead
from leads.selectors import lead_find_duplicates
from tests.factories import make_lead, make_source


def test_it_normalises_email_and_phone(rep, team, source):
    lead = make_lead(owner=rep, team=team, source=source, email="  Ana.Perez@Example.COM ", phone="(415) 555-0134")
    assert lead.email == "ana.perez@example.com"
    assert lead.phone == "+14155550134"


def test_it_refuses_a_phone_that_is_not_a_number(rep, team, source):
    with pytest.raises(ValidationError) as exc:
        make_lead(owner=rep, team=team, source=source, phone="call me maybe")
    assert "phone" in exc.value.message_dict
    assert not Lead.objects.exists()


def test_it_needs_an_email_or_a_phone(rep, team, source):
    with pytest.raises(ValidationError):
        make_lead(owner=rep, team=team, source=source, email="", phone="")
    assert not Lead.objects.exists()


def test_it_refuses_an_owner_outside_the_team(rep, team, other_rep, source):
    with pytest.raises(ValidationError) as exc:
        make_lead(owner=other_rep, team=team, source=source)
    assert "not a member" in exc.value.message_dict["owner"][0]
    assert not Lead.objects.exists()


def test_it_refuses_a_retired_source(rep, team):
    with pytest.raises(ValidationError) as exc:
        make_lead(owner=rep, team=team, source=make_source(is_active=False))
    assert "source" in exc.value.message_dict


def test_it_logs_the_first_assignment(lead, rep):
    (assignment,) = Assignment.objects.filter(lead=lead)
    assert (assignment.from_owner, assignment.to_owner) == (None, rep)


def test_duplicates_are_found_by_normalised_email_or_phone(rep, team, source):
    first = make_lead(owner=rep, team=team, source=source, email="Bo@Example.com", phone="+1 415 555 0199")
    assert lead_find_duplicates(email="bo@example.com", phone="") == [first]
    assert lead_find_duplicates(email="", phone="+14155550199") == [first]
    assert lead_find_duplicates(email="other@example.com", phone="") == []
    assert lead_find_duplicates(email="bo@example.com", phone="", exclude_pk=first.pk) == []


def test_a_call_sets_first_contact_and_last_touch(lead, rep):
    at = lead.received_at + timedelta(minutes=7)
    services.activity_log(lead=lead, by=rep, kind=Activity.Kind.CALL, outcome="Voicemail", occurred_at=at)

    lead.refresh_from_db()
    assert lead.first_contacted_at == at
    assert lead.last_touched_at == at


def test_later_contacts_move_last_touch_but_not_first_contact(lead, rep):
    first = lead.received_at + timedelta(minutes=7)
    second = first + timedelta(hours=2)
    services.activity_log(lead=lead, by=rep, kind=Activity.Kind.CALL, outcome="Voicemail", occurred_at=first)
    services.activity_log(lead=lead, by=rep, kind=Activity.Kind.EMAIL, outcome="Sent deck", occurred_at=second)

    lead.refresh_from_db()
    assert (lead.first_contacted_at, lead.last_touched_at) == (first, second)


def test_a_back_dated_activity_never_moves_last_touch_backwards(lead, rep):
    late = lead.received_at + timedelta(hours=5)
    early = lead.received_at + timedelta(hours=1)
    services.activity_log(lead=lead, by=rep, kind=Activity.Kind.CALL, outcome="Talked", occurred_at=late)
    services.activity_log(lead=lead, by=rep, kind=Activity.Kind.MEETING, outcome="Earlier meeting", occurred_at=early)

    lead.refresh_from_db()
    assert lead.last_touched_at == late
    assert lead.first_contacted_at == late  # set once, by the first contact logged


def test_a_note_neither_contacts_nor_touches(lead, rep):
    services.activity_log(lead=lead, by=rep, kind=Activity.Kind.NOTE, outcome="Looked them up on LinkedIn")

    lead.refresh_from_db()
    assert lead.first_contacted_at is None
    assert lead.last_touched_at is None
    assert Activity.objects.filter(lead=lead).count() == 1


def test_it_refuses_activities_in_the_future_or_before_the_lead_arrived(lead, rep):
    with pytest.raises(ValidationError) as exc:
        services.activity_log(
            lead=lead, by=rep, kind="call", outcome="x", occurred_at=timezone.now() + timedelta(days=1)
        )
    assert "future" in exc.value.message_dict["occurred_at"][0]
    with pytest.raises(ValidationError):
        services.activity_log(lead=lead, by=rep, kind="call", outcome="x", occurred_at=lead.received_at - timedelta(1))
    assert not Activity.objects.exists()


def test_reassign_moves_the_lead_within_the_team_and_logs_it(lead, rep, teammate, manager):
    services.lead_reassign(lead=lead, to_owner=teammate, by=manager, reason="Rita is away")

    lead.refresh_from_db()
    assert lead.owner == teammate
    latest = Assignment.objects.filter(lead=lead).first()
    assert (latest.from_owner, latest.to_owner, latest.assigned_by, latest.reason) == (
        rep,
        teammate,
        manager,
        "Rita is away",
    )


def test_reassign_refuses_someone_outside_the_team(lead, rep, other_rep, manager):
    with pytest.raises(ValidationError):
        services.lead_reassign(lead=lead, to_owner=other_rep, by=manager)
    lead.refresh_from_db()
    assert lead.owner == rep


def test_reassign_refuses_a_rep(lead, rep, teammate):
    with pytest.raises(ValidationError):
        services.lead_reassign(lead=lead, to_owner=teammate, by=rep)
    lead.refresh_from_db()
    assert lead.owner == rep
