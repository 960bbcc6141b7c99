from __future__ import annotations

from collections import Counter

import pytest
from django.core import mail

from accounts.models import Membership, Team
from leads import services
from leads.models import Activity, Assignment, Channel, Lead
from tests.factories import make_lead, make_team, make_user


def _team_of(n: int, manager, *, rule=Team.AssignmentRule.ROUND_ROBIN, name="Sales"):
    reps = [make_user(f"{name.lower()}-rep{i}", first_name=f"Rep{i}") for i in range(n)]
    team = make_team(name, manager=manager, members=reps)
    Team.objects.filter(pk=team.pk).update(assignment_rule=rule)
    team.refresh_from_db()
    return team, reps


def _assign(team, n: int) -> list:
    return [services.lead_assign_next(team=team)[0] for _ in range(n)]


def test_round_robin_gives_everyone_the_same_number_of_leads(manager):
    team, reps = _team_of(3, manager)
    counts = Counter(_assign(team, 300))
    assert counts == {rep: 100 for rep in reps}


def test_round_robin_counts_never_differ_by_more_than_one(manager):
    team, reps = _team_of(4, manager)
    owners = _assign(team, 1)
    for _ in range(41):
        owners += _assign(team, 1)
        counts = Counter(owners)
        assert max(counts.get(r, 0) for r in reps) - min(counts.get(r, 0) for r in reps) <= 1


def test_round_robin_takes_turns_in_a_cycle(manager):
    team, reps = _team_of(3, manager)
    owners = _assign(team, 6)
    assert owners[:3] == owners[3:]
    assert set(owners[:3]) == set(reps)


def test_a_new_team_does_not_always_start_with_its_longest_serving_member(manager):
    """Ties are not broken by seniority: the first turn of a fresh rotation is not always the
    member who joined first."""
    firsts = Counter()
    for i in range(30):
        team, reps = _team_of(3, manager, name=f"T{i}")
        firsts[reps.index(_assign(team, 1)[0])] += 1
    assert len(firsts) > 1


def test_the_reason_names_the_previous_turn_and_who_was_skipped(manager):
    team, (ana, ben, carla) = _team_of(3, manager)
    first, _ = services.lead_assign_next(team=team)
    # Make the rotation deterministic for the assertion: the pointer sits on Ana.
    Team.objects.filter(pk=team.pk).update(rr_last_member=Membership.objects.get(team=team, user=ana))
    Membership.objects.filter(team=team, user=ben).update(is_away=True)
    team.refresh_from_db()

    owner, reason = services.lead_assign_next(team=team)

    assert owner == carla
    assert reason == f"round robin: next after {ana}; {ben} away"


def test_away_members_get_no_leads(manager):
    team, (ana, ben, carla) = _team_of(3, manager)
    Membership.objects.filter(user=ben).update(is_away=True)
    counts = Counter(_assign(team, 20))
    assert counts[ben] == 0
    assert counts[ana] == counts[carla] == 10


def test_a_rep_at_the_cap_is_skipped_until_they_contact_a_lead(manager, source):
    team, (ana, ben) = _team_of(2, manager)
    Membership.objects.filter(user=ana).update(max_open_uncontacted=2)
    waiting = [make_lead(owner=ana, team=team, source=source) for _ in range(2)]

    owners = _assign(team, 4)
    assert owners == [ben] * 4

    services.activity_log(lead=waiting[0], by=ana, kind=Activity.Kind.CALL, outcome="Reached them")
    assert ana in _assign(team, 2)


def test_inactive_and_zero_weight_members_are_skipped(manager):
    team, (ana, ben, carla) = _team_of(3, manager)
    ana.is_active = False
    ana.save()
    Membership.objects.filter(user=ben).update(weight=0)
    assert set(_assign(team, 5)) == {carla}


def test_with_nobody_available_the_manager_gets_the_lead_and_the_reason_says_why(manager):
    team, (ana, ben) = _team_of(2, manager)
    Membership.objects.filter(team=team).update(is_away=True)
    owner, reason = services.lead_assign_next(team=team)
    assert owner == manager
    assert reason.startswith("nobody available")
    assert f"{ana} away" in reason and f"{ben} away" in reason
    assert str(manager) in reason


def test_weighted_shares_leads_in_proportion_and_interleaves_them(manager):
    team, (ana, ben, carla) = _team_of(3, manager, rule=Team.AssignmentRule.WEIGHTED)
    Membership.objects.filter(user=ana).update(weight=2)
    owners = _assign(team, 400)
    assert Counter(owners) == {ana: 200, ben: 100, carla: 100}
    # Smooth: Ana never gets more than two in a row.
    assert all(owners[i : i + 3] != [ana, ana, ana] for i in range(len(owners) - 2))


def test_weighted_reason_lists_the_weights(manager):
    team, (ana, ben) = _team_of(2, manager, rule=Team.AssignmentRule.WEIGHTED)
    owner, reason = services.lead_assign_next(team=team)
    assert reason.startswith("weighted (")
    assert f"{owner}'s turn" in reason


def test_intake_logs_the_assignment_reason(manager, source):
    team, reps = _team_of(2, manager)
    result = services.lead_intake(
        channel=Channel.WEB, data={"name": "Pia", "email": "pia@example.com"}, source=source, by=None, team=team
    )
    (assignment,) = Assignment.objects.filter(lead=result.lead)
    assert assignment.to_owner in reps
    assert assignment.reason.startswith("round robin")
    assert assignment.reason == result.assignment_reason


def test_the_new_owner_is_notified_only_after_commit(manager, source, eager_celery, django_capture_on_commit_callbacks):
    team, reps = _team_of(2, manager)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = services.lead_intake(
            channel=Channel.WEB, data={"name": "Pia", "email": "pia@example.com"}, source=source, by=None, team=team
        )
        assert mail.outbox == []
    assert len(callbacks) == 1
    assert mail.outbox == []
    for callback in callbacks:
        callback()
    (message,) = mail.outbox
    assert message.to == [result.lead.owner.email]
    assert "Pia" in message.body


def test_a_bulk_intake_continues_the_same_rotation(manager, source):
    team, reps = _team_of(3, manager)
    first = _assign(team, 1)[0]
    results = services.lead_intake_many(
        channel=Channel.IMPORT,
        rows=[{"name": f"P{i}", "email": f"p{i}@example.com"} for i in range(8)],
        source=source,
        team=team,
        by=manager,
    )
    owners = [first] + [r.lead.owner for r in results]
    counts = Counter(owners)
    assert max(counts.values()) - min(counts.values()) <= 1
    assert owners[:3] == owners[3:6]
    assert Lead.objects.count() == 8


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_assignments_take_consecutive_turns(manager):
    """Two leads arriving at once are serialised on the team row: nobody gets both turns."""
    import threading

    from django.db import connection, transaction

    team, reps = _team_of(2, manager)
    owners, barrier = [], threading.Barrier(4)

    def assign():
        try:
            barrier.wait()
            with transaction.atomic():
                owners.append(services.lead_assign_next(team=team)[0])
        finally:
            connection.close()

    threads = [threading.Thread(target=assign) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Counter(owners) == {reps[0]: 2, reps[1]: 2}
