"""Writes of the api app: personal API tokens."""

from __future__ import annotations

import hashlib
import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import User

from .models import ApiToken

KEY_PREFIX = "lf_"
MAX_ACTIVE_TOKENS = 20
MSG_TOO_MANY = "You have {n} active tokens; revoke one you no longer use first."
MSG_NAME = "Give the token a name, e.g. the tool that will use it."


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """Create a token; returns it with the key, which is never shown again."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": MSG_NAME})
    active = ApiToken.objects.filter(user=user, revoked_at__isnull=True).count()
    if active >= MAX_ACTIVE_TOKENS:
        raise ValidationError({"name": MSG_TOO_MANY.format(n=active)})
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name, prefix=key[:10], key_hash=hash_key(key), created_at=timezone.now())
    token.full_clean()
    token.save()
    return token, key


def api_token_revoke(*, token: ApiToken) -> None:
    """Revoke a token at once; revoking twice changes nothing."""
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    token.refresh_from_db(fields=["revoked_at"])
