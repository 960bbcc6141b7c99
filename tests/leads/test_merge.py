from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError
from django.urls import reverse
from django.utils import timezone

from intake.models import WebFormSubmission
from leads import services
from leads.models import Activity, Assignment, Channel, Lead, LeadMerge, OwnerNotice, StageChange
from tests.factories import make_lead, make_source

MERGE_PAGE_QUERIES = 18


@pytest.fixture
def pair(rep, teammate, team, source, webform):
    """Two records of one person, each with history in every relation we have today."""
    now = timezone.now()
    keep = make_lead(
        owner=rep,
        team=team,
        source=source,
        name="Bo Smith",
        email="bo@example.com",
        received_at=now - timedelta(days=2),
    )
    gone = make_lead(
        owner=teammate,
        team=team,
        source=make_source("Trade show"),
        name="Robert Smith",
        email="",
        phone="+1 415 555 0177",
        company="Smith & Sons",
        received_at=now - timedelta(days=5),
    )
    services.activity_log(
        lead=gone, by=teammate, kind=Activity.Kind.CALL, outcome="Spoke", occurred_at=now - timedelta(days=4)
    )
    services.activity_log(lead=gone, by=teammate, kind=Activity.Kind.NOTE, outcome="Wants a demo")
    services.lead_change_stage(lead=gone, to_stage=Lead.Stage.NURTURE, by=teammate, reason="Next quarter")
    services.lead_reassign(lead=gone, to_owner=rep, by=team.manager, reason="Rita knows them")
    WebFormSubmission.objects.create(
        form=webform, lead=gone, token="t1", fingerprint="f", outcome="created", name="Robert", submitted_at=now
    )
    services._notify_owner(lead=gone, text="hello")
    referral = make_lead(owner=rep, team=team, source=source, name="Referred")
    Lead.objects.filter(pk=referral.pk).update(referred_by_lead=gone)
    flagged = make_lead(owner=rep, team=team, source=source, name="Flagged")
    Lead.objects.filter(pk=flagged.pk).update(possible_duplicate_of=gone)
    return keep, gone


def _counts(lead):
    return {
        "activities": Activity.objects.filter(lead=lead).count(),
        "stage": StageChange.objects.filter(lead=lead).count(),
        "assignments": Assignment.objects.filter(lead=lead).count(),
        "submissions": WebFormSubmission.objects.filter(lead=lead).count(),
        "notices": OwnerNotice.objects.filter(lead=lead).count(),
        "referrals": Lead.objects.filter(referred_by_lead=lead).count(),
        "flagged": Lead.objects.filter(possible_duplicate_of=lead).count(),
    }


def test_every_related_row_moves_to_the_survivor(pair, manager):
    keep, gone = pair
    before_keep, before_gone = _counts(keep), _counts(gone)

    record = services.lead_merge(
        survivor=keep, merged=gone, field_choices={"phone": "merged", "company": "merged"}, by=manager
    )

    after_keep, after_gone = _counts(keep), _counts(gone)
    assert all(n == 0 for n in after_gone.values()), after_gone
    for key in before_keep:
        extra = 1 if key == "activities" else 0  # the merge note
        assert after_keep[key] == before_keep[key] + before_gone[key] + extra, key
    assert record.moved["leads.Activity.lead"] == 2
    assert record.moved["leads.StageChange.lead"] == before_gone["stage"]


def test_chosen_values_and_the_clock_survive(pair, manager):
    keep, gone = pair
    services.lead_merge(
        survivor=keep,
        merged=gone,
        field_choices={"phone": "merged", "company": "merged", "source": "merged"},
        by=manager,
    )
    keep.refresh_from_db()
    gone.refresh_from_db()
    assert (keep.name, keep.email, keep.phone, keep.company) == (
        "Bo Smith",
        "bo@example.com",
        "+14155550177",
        "Smith & Sons",
    )
    assert keep.source == gone.source
    assert keep.received_at == gone.received_at  # the earliest arrival
    assert keep.first_contacted_at is not None
    assert keep.stage == Lead.Stage.LEAD and keep.owner.username == "rita"
    assert gone.merged_into == keep


def test_the_history_shows_the_merge_and_keeps_the_merged_values(pair, manager):
    keep, gone = pair
    record = services.lead_merge(survivor=keep, merged=gone, field_choices={}, by=manager)
    note = Activity.objects.filter(lead=keep, kind=Activity.Kind.NOTE).order_by("-id").first()
    assert note.outcome.startswith(f"Merged “Robert Smith” (#{gone.pk}) into this lead")
    assert record.merged_by == manager
    assert record.merged_values["company"] == "Smith & Sons"
    assert record.merged_values["phone"] == "+14155550177"
    assert LeadMerge.objects.get() == record


def test_every_reverse_relation_of_lead_is_handled():
    """New relations added by other apps are moved by lead_merge automatically, as long as they
    are plain foreign keys, one-to-ones or many-to-manys; anything else fails here."""
    handled = {services._relation_label(rel) for rel in services.lead_merge_relations()} | services.MERGE_KEEPS
    every = {services._relation_label(rel) for rel in Lead._meta.related_objects}
    assert every == handled
    for rel in services.lead_merge_relations():
        assert rel.one_to_many or rel.one_to_one or rel.many_to_many, rel
    assert "leads.Activity.lead" in handled and "leads.StageChange.lead" in handled


def test_the_merge_reports_every_relation_it_walked(pair, manager):
    keep, gone = pair
    record = services.lead_merge(survivor=keep, merged=gone, field_choices={}, by=manager)
    assert set(record.moved) == {services._relation_label(rel) for rel in services.lead_merge_relations()}


def test_a_failure_half_way_changes_nothing(pair, manager, monkeypatch):
    keep, gone = pair
    before = (_counts(keep), _counts(gone))
    fields_before = (
        Lead.objects.filter(pk__in=[keep.pk, gone.pk])
        .order_by("pk")
        .values_list("phone", "company", "received_at", "merged_into")
    )
    fields_before = list(fields_before)

    def crash(**kwargs):
        raise DatabaseError("server closed the connection")

    # Every related row has been re-pointed by the time the merge record is written.
    monkeypatch.setattr(LeadMerge.objects, "create", crash)
    with pytest.raises(DatabaseError):
        services.lead_merge(survivor=keep, merged=gone, field_choices={"phone": "merged"}, by=manager)

    assert (_counts(keep), _counts(gone)) == before
    assert (
        list(
            Lead.objects.filter(pk__in=[keep.pk, gone.pk])
            .order_by("pk")
            .values_list("phone", "company", "received_at", "merged_into")
        )
        == fields_before
    )


def test_it_refuses_bad_merges(pair, manager, rep):
    keep, gone = pair
    with pytest.raises(ValidationError):
        services.lead_merge(survivor=keep, merged=keep, field_choices={}, by=manager)
    with pytest.raises(ValidationError):
        services.lead_merge(survivor=keep, merged=gone, field_choices={"stage": "merged"}, by=manager)
    with pytest.raises(ValidationError) as exc:
        services.lead_merge(survivor=keep, merged=gone, field_choices={"email": "merged"}, by=manager)
    assert "email" in exc.value.message_dict  # neither email nor phone would be left
    services.lead_merge(survivor=keep, merged=gone, field_choices={}, by=manager)
    with pytest.raises(ValidationError):
        services.lead_merge(survivor=keep, merged=gone, field_choices={}, by=manager)


def test_the_merge_page_needs_the_permission_and_both_leads_in_scope(client, pair, other_rep, other_team, teammate):
    keep, gone = pair
    url = reverse("leads:merge", args=[keep.pk, gone.pk])
    assert client.get(url).status_code == 302  # anonymous → login
    client.force_login(other_rep)
    assert client.get(url).status_code == 404
    client.force_login(teammate)  # owns neither lead now (gone was reassigned to Rita)
    assert client.get(url).status_code == 404


def test_the_merge_page_merges_and_the_merged_lead_redirects(client, pair, manager, django_assert_max_num_queries):
    keep, gone = pair
    client.force_login(manager)
    url = reverse("leads:merge", args=[keep.pk, gone.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert b"Smith &amp; Sons" in response.content

    data = {f: "survivor" for f in services.MERGE_FIELDS} | {"company": "merged"}
    response = client.post(url, data)
    assert response.status_code == 302 and response["Location"] == keep.get_absolute_url()
    keep.refresh_from_db()
    assert keep.company == "Smith & Sons"

    response = client.get(gone.get_absolute_url())
    assert response.status_code == 302 and response["Location"] == keep.get_absolute_url()
    assert (
        client.get(reverse("leads:queue") + "?stage=all").context["counts"]["all"]
        == Lead.objects.filter(merged_into__isnull=True).count()
    )


def test_the_merge_page_query_count_does_not_grow_with_history(client, pair, manager, django_assert_num_queries):
    keep, gone = pair
    client.force_login(manager)
    url = reverse("leads:merge", args=[keep.pk, gone.pk])
    client.get(url)
    with django_assert_num_queries(MERGE_PAGE_QUERIES):
        client.get(url)
    for _ in range(50):
        services.activity_log(lead=gone, by=manager, kind=Activity.Kind.NOTE, outcome="more")
    with django_assert_num_queries(MERGE_PAGE_QUERIES):
        client.get(url)


def test_a_rep_can_merge_two_of_their_own_leads(client, rep, team, source):
    a = make_lead(owner=rep, team=team, source=source, email="x@example.com")
    b = services.lead_intake(
        channel=Channel.MANUAL,
        data={"name": "X", "email": "X@example.com"},
        source=source,
        by=rep,
        team=team,
        owner=rep,
    ).lead
    client.force_login(rep)
    response = client.get(b.get_absolute_url())
    assert b"Possible duplicate of" in response.content
    response = client.post(reverse("leads:merge", args=[a.pk, b.pk]), {f: "survivor" for f in services.MERGE_FIELDS})
    assert response.status_code == 302
    b.refresh_from_db()
    assert b.merged_into == a
