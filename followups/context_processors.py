from __future__ import annotations

from functools import cache

from .selectors import notification_unread_count_and_policy


def followups(request) -> dict:
    """The bell's unread count on every page, and the policy for temperature badges.

    Both come from one cached callable: the template engine calls it when a page uses either,
    so a page costs at most one query for both, and none for anonymous pages.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    @cache
    def chrome():
        return notification_unread_count_and_policy(user=user)

    return {"unread_notifications": lambda: chrome()[0], "followup_policy": lambda: chrome()[1]}
