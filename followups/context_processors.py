from __future__ import annotations

from functools import cache

from .models import FollowUpPolicy
from .selectors import notification_unread_count


def followups(request) -> dict:
    """The bell's unread count on every page, and the policy for temperature badges.

    Both are cached callables: the template engine calls them when a page uses them, so each costs
    at most one query per page, and none for anonymous pages.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    @cache
    def unread_notifications() -> int:
        return notification_unread_count(user=user)

    return {"unread_notifications": unread_notifications, "followup_policy": cache(FollowUpPolicy.load)}
