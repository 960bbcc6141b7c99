"""Follow-up and notification pages: the healthchecks checklist (anonymous, wrong method, no
access, happy path with the rows checked) and fixed query counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from followups import services
from followups.models import FollowUp, Kind, Notification
from leads.models import Activity
from tests.factories import make_lead, make_user
from tests.leads.test_query_counts import DETAIL_QUERIES


def add(lead, *, due_in=timedelta(hours=2), owner=None, **kw) -> FollowUp:
    return services.followup_add(
        lead=lead,
        owner=owner or lead.owner,
        due_at=timezone.now() + due_in,
        kind=kw.pop("kind", Kind.CALL),
        instruction=kw.pop("instruction", "Call back"),
        by=lead.owner,
        **kw,
    )


def notify(user, n: int = 1, *, read=False) -> list[Notification]:
    now = timezone.now()
    rows = [
        Notification(
            user=user, kind="reminder", text=f"Reminder {i}", url="/leads/", key=f"t:{user.pk}:{i}", created_at=now
        )
        for i in range(n)
    ]
    Notification.objects.bulk_create(rows)
    if read:
        Notification.objects.filter(user=user).update(read_at=now)
    return list(Notification.objects.filter(user=user))


@pytest.fixture
def followup(lead):
    return add(lead)


@pytest.mark.parametrize(
    "name,args",
    [
        ("followups:mine", []),
        ("followups:notifications", []),
        ("followups:unread_count", []),
        ("followups:complete", [1]),
        ("followups:snooze", [1]),
        ("followups:reschedule", [1]),
        ("followups:add", [1]),
    ],
)
def test_anonymous_users_are_sent_to_log_in(client, db, name, args):
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", ["followups:skip", "followups:open", "followups:read", "followups:read_all"])
def test_actions_refuse_get(client, rep, followup, name):
    client.force_login(rep)
    args = [] if name == "followups:read_all" else [followup.pk]
    assert client.get(reverse(name, args=args)).status_code == 405


def test_a_rep_cannot_reach_another_teams_followup(client, other_rep, followup):
    client.force_login(other_rep)
    for name in ("followups:complete", "followups:snooze", "followups:reschedule"):
        assert client.get(reverse(name, args=[followup.pk])).status_code == 404
    assert client.post(reverse("followups:skip", args=[followup.pk])).status_code == 404
    assert client.post(reverse("followups:add", args=[followup.lead_id]), {}).status_code == 404
    followup.refresh_from_db()
    assert followup.state == FollowUp.State.PENDING


def test_a_user_without_the_permission_is_refused(client, followup, lead):
    nobody = make_user(role=None)  # sees every lead, but may not work follow-ups
    nobody.user_permissions.add(Permission.objects.get(codename="view_all_leads"))
    client.force_login(nobody)
    assert client.get(reverse("followups:complete", args=[followup.pk])).status_code == 403
    assert client.post(reverse("followups:add", args=[lead.pk]), {}).status_code == 403


def test_completing_from_the_lead_page_logs_the_call(client, rep, followup, lead):
    client.force_login(rep)
    response = client.post(
        reverse("followups:complete", args=[followup.pk]),
        {"activity_kind": "call", "outcome": "Spoke to Lena", "next_kind": "call"},
    )
    assert response.status_code == 302 and response["Location"] == lead.get_absolute_url()
    followup.refresh_from_db()
    assert followup.state == FollowUp.State.DONE
    assert Activity.objects.get(lead=lead).outcome == "Spoke to Lena"


def test_a_bad_completion_shows_field_errors_and_saves_nothing(client, rep, followup):
    client.force_login(rep)
    response = client.post(
        reverse("followups:complete", args=[followup.pk]),
        {"activity_kind": "call", "outcome": "", "next_due_at": "2099-01-01T10:00", "next_kind": "call"},
    )
    assert response.status_code == 400
    assert response.context["form"].errors.keys() == {"outcome", "next_instruction"}
    followup.refresh_from_db()
    assert followup.state == FollowUp.State.PENDING
    assert not Activity.objects.exists()


def test_completing_an_already_done_followup_is_a_form_error_not_a_500(client, rep, followup):
    services.followup_skip(followup=followup, by=rep)
    client.force_login(rep)
    response = client.post(
        reverse("followups:complete", args=[followup.pk]),
        {"activity_kind": "call", "outcome": "x", "next_kind": "call"},
    )
    assert response.status_code == 400
    assert "already skipped" in response.content.decode()


def test_snoozing_with_a_preset(client, rep, followup):
    client.force_login(rep)
    before = timezone.now()
    response = client.post(reverse("followups:snooze", args=[followup.pk]), {"preset": "1h"})
    assert response.status_code == 302
    followup.refresh_from_db()
    assert before + timedelta(minutes=59) < followup.due_at < before + timedelta(minutes=61)


def test_snoozing_to_the_next_working_morning_reads_the_users_zone(client, rep, followup, policy):
    rep.time_zone = "Asia/Tokyo"
    rep.save()
    client.force_login(rep)
    client.post(reverse("followups:snooze", args=[followup.pk]), {"preset": "tomorrow"})
    followup.refresh_from_db()
    local = timezone.localtime(followup.due_at, timezone.get_fixed_timezone(9 * 60))
    assert (local.hour, local.minute) == (9, 0)
    assert local.isoweekday() <= 5


def test_snoozing_into_the_past_is_a_field_error(client, rep, followup):
    client.force_login(rep)
    response = client.post(reverse("followups:snooze", args=[followup.pk]), {"until": "2001-01-01T10:00"})
    assert response.status_code == 400
    assert "until" in response.context["form"].errors


def test_rescheduling(client, rep, followup):
    client.force_login(rep)
    assert client.get(reverse("followups:reschedule", args=[followup.pk])).status_code == 200
    response = client.post(
        reverse("followups:reschedule", args=[followup.pk]),
        {"due_at": "2099-03-01T10:30", "kind": "email", "instruction": "Send the quote"},
    )
    assert response.status_code == 302
    followup.refresh_from_db()
    assert (followup.kind, followup.instruction) == ("email", "Send the quote")
    assert timezone.localtime(followup.due_at).strftime("%Y-%m-%d %H:%M") == "2099-03-01 10:30"


def test_skipping(client, rep, followup):
    client.force_login(rep)
    assert client.post(reverse("followups:skip", args=[followup.pk])).status_code == 302
    followup.refresh_from_db()
    assert followup.state == FollowUp.State.SKIPPED


def test_adding_a_date_agreed_with_the_lead(client, rep, lead):
    client.force_login(rep)
    response = client.post(
        reverse("followups:add", args=[lead.pk]),
        {"due_at": "2099-06-12T11:00", "kind": "call", "instruction": "Call on the 12th", "agreed_with_lead": "on"},
    )
    assert response.status_code == 302
    followup = FollowUp.objects.get(lead=lead)
    assert followup.agreed_with_lead and followup.owner == rep


def test_adding_with_bad_input_shows_field_errors(client, rep, lead):
    client.force_login(rep)
    response = client.post(reverse("followups:add", args=[lead.pk]), {"due_at": "not a date", "kind": "fax"})
    assert response.status_code == 400
    assert {"due_at", "kind", "instruction"} <= response.context["form"].errors.keys()
    assert not FollowUp.objects.exists()


def test_the_lead_page_shows_the_followups_panel(client, rep, lead, followup):
    client.force_login(rep)
    html = client.get(lead.get_absolute_url()).content.decode()
    assert "Call back" in html
    assert reverse("followups:complete", args=[followup.pk]) in html
    assert "No next step" not in html


def test_the_lead_page_flags_a_lead_with_no_next_step(client, rep, lead):
    client.force_login(rep)
    assert "No next step" in client.get(lead.get_absolute_url()).content.decode()


@pytest.mark.parametrize("n", [2, 30])
def test_the_lead_page_runs_a_fixed_number_of_queries(client, rep, lead, policy, n, django_assert_num_queries):
    for i in range(n):
        add(lead, due_in=timedelta(hours=i + 1))
    for f in FollowUp.objects.filter(lead=lead)[: n // 2]:
        services.followup_skip(followup=f, by=rep)
    client.force_login(rep)
    # The lead page's pin: the same however many follow-ups, pending or closed.
    with django_assert_num_queries(DETAIL_QUERIES):
        assert client.get(lead.get_absolute_url()).status_code == 200


@pytest.mark.parametrize("n", [5, 60])
def test_my_followups_runs_a_fixed_number_of_queries(client, rep, lead, n, django_assert_num_queries):
    for i in range(n):
        add(lead, due_in=timedelta(hours=i + 1))
    client.force_login(rep)
    # session, user, permissions with role names, bell, count, page
    with django_assert_num_queries(6):
        response = client.get(reverse("followups:mine"))
    assert len(response.context["followups"]) == min(n, 50)


def test_my_followups_lists_mine_overdue_first(client, rep, teammate, team, source, lead):
    theirs = make_lead(owner=teammate, team=team, source=source)
    later = add(lead, due_in=timedelta(days=2), instruction="later")
    add(theirs, due_in=timedelta(days=1), instruction="not mine")
    overdue = FollowUp.objects.create(
        lead=lead, owner=rep, due_at=timezone.now() - timedelta(hours=3), instruction="overdue"
    )
    client.force_login(rep)
    response = client.get(reverse("followups:mine"))
    assert response.context["followups"] == [overdue, later]


def test_a_manager_sees_the_team_followups(client, manager, rep, teammate, team, source, lead):
    theirs = make_lead(owner=teammate, team=team, source=source)
    a, b = add(lead), add(theirs)
    client.force_login(manager)
    assert response_ids(client.get(reverse("followups:mine") + "?scope=team")) == {a.pk, b.pk}
    assert response_ids(client.get(reverse("followups:mine"))) == set()


def test_a_rep_asking_for_the_team_scope_gets_their_own(client, rep, teammate, team, source, lead):
    theirs = make_lead(owner=teammate, team=team, source=source)
    mine_, _ = add(lead), add(theirs)
    client.force_login(rep)
    assert response_ids(client.get(reverse("followups:mine") + "?scope=team")) == {mine_.pk}


def response_ids(response) -> set[int]:
    return {f.pk for f in response.context["followups"]}


def test_the_bell_shows_the_unread_count_on_every_page(client, rep, lead):
    notify(rep, 3)
    client.force_login(rep)
    html = client.get(reverse("leads:queue")).content.decode()
    assert 'id="bell-count">3</span>' in html
    assert client.get(reverse("followups:unread_count")).json() == {"unread": 3}


def test_the_bell_is_hidden_with_nothing_unread(client, rep):
    notify(rep, 2, read=True)
    client.force_login(rep)
    assert 'id="bell-count" hidden>0</span>' in client.get(reverse("followups:notifications")).content.decode()


@pytest.mark.parametrize("n", [3, 70])
def test_the_notifications_page_runs_a_fixed_number_of_queries(client, rep, n, django_assert_num_queries):
    notify(rep, n)
    client.force_login(rep)
    with django_assert_num_queries(6):
        response = client.get(reverse("followups:notifications"))
    assert len(response.context["items"]) == min(n, 50)


def test_opening_a_notification_marks_it_read_and_goes_to_the_lead(client, rep):
    (n,) = notify(rep)
    client.force_login(rep)
    response = client.post(reverse("followups:open", args=[n.pk]))
    assert response["Location"] == "/leads/"
    n.refresh_from_db()
    assert n.read_at is not None


def test_a_notification_pointing_off_site_is_not_followed(client, rep):
    (n,) = notify(rep)
    Notification.objects.filter(pk=n.pk).update(url="https://evil.example/")
    client.force_login(rep)
    assert client.post(reverse("followups:open", args=[n.pk]))["Location"] == reverse("followups:notifications")


def test_marking_read_one_and_all(client, rep):
    first, *_ = notify(rep, 3)
    client.force_login(rep)
    client.post(reverse("followups:read", args=[first.pk]))
    assert Notification.objects.filter(read_at__isnull=True).count() == 2
    client.post(reverse("followups:read_all"))
    assert Notification.objects.filter(read_at__isnull=True).count() == 0


def test_someone_elses_notification_is_a_404(client, rep, teammate):
    (n,) = notify(teammate)
    client.force_login(rep)
    assert client.post(reverse("followups:open", args=[n.pk])).status_code == 404
    assert client.post(reverse("followups:read", args=[n.pk])).status_code == 404
    client.post(reverse("followups:read_all"))
    n.refresh_from_db()
    assert n.read_at is None
