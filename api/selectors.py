from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import User

from .models import ApiToken


def api_tokens_for(*, user: User) -> QuerySet[ApiToken]:
    """A user's tokens, active first."""
    return ApiToken.objects.filter(user=user).order_by("revoked_at", "-created_at")
