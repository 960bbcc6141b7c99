"""notification_unread_count_and_policy: the bell and the policy every page needs, in one query."""

from __future__ import annotations

from django.utils import timezone

from followups.models import FollowUpPolicy, Notification
from followups.selectors import notification_unread_count_and_policy


def notify(user, n: int, *, read: bool = False) -> None:
    now = timezone.now()
    Notification.objects.bulk_create(
        Notification(
            user=user,
            kind="reminder",
            text=f"Reminder {i}",
            key=f"chrome:{user.pk}:{read}:{i}",
            created_at=now,
            read_at=now if read else None,
        )
        for i in range(n)
    )


def test_it_counts_unread_and_reads_the_saved_policy_in_one_query(rep, teammate, django_assert_num_queries):
    FollowUpPolicy(hot_hours=5, cooling_days=2, cold_days=9).save()
    notify(rep, 3)
    notify(rep, 2, read=True)
    notify(teammate, 4)
    with django_assert_num_queries(1):
        unread, policy = notification_unread_count_and_policy(user=rep)
    assert unread == 3
    assert (policy.pk, policy.hot_hours, policy.cooling_days, policy.cold_days) == (1, 5, 2, 9)
    assert policy.working_hours == FollowUpPolicy.load().working_hours


def test_without_a_saved_policy_it_gives_the_defaults_and_still_counts(rep, django_assert_num_queries):
    notify(rep, 2)
    with django_assert_num_queries(1):
        unread, policy = notification_unread_count_and_policy(user=rep)
    assert unread == 2
    assert policy.hot_hours == FollowUpPolicy().hot_hours and policy.pk == FollowUpPolicy.SINGLETON_PK


def test_nothing_unread_is_zero(rep):
    assert notification_unread_count_and_policy(user=rep)[0] == 0
