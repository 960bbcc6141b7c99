"""Per-IP rate limiting on Django's cache (Redis in production, local memory otherwise).

Why not django-ratelimit: it refuses LocMemCache (E003), which is what the app runs on with no
configuration, and warns on Django's built-in Redis cache (W001) because that backend's
`incr` is an EXISTS then an INCR: if the key expires in between, INCR creates it with no
expiry, and a counter that never expires would block that IP for good. Here every counter key
carries its window's number, so such a key belongs to a window that is already over and is
never read again: the race can leak one small key, never block anyone. With Redis, `add` and
`incr` are atomic on the server, so all web processes share one count; with LocMemCache each
process counts alone (fine for one process in development).

On our Redis cache (leadflow.cache.RedisCache) a hit is one round trip instead: INCR and
EXPIRE in one server-side script, so the counter never lives without its expiry.

A cache outage must not stop leads: when the cache is unreachable the request is allowed
(fail open) and a warning is logged; honeypot, fill time and idempotency still apply.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest

from leadflow.cache import RedisCache

logger = logging.getLogger(__name__)


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or with WEBFORM_TRUSTED_PROXIES = n > 0 the address the
    n-th proxy from the right saw in X-Forwarded-For (never trust what the client itself sent)."""
    proxies = settings.WEBFORM_TRUSTED_PROXIES
    if proxies > 0:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies][:64]
    return request.META.get("REMOTE_ADDR", "unknown")[:64]


def hit(key: str, *, limit: int, window: int) -> tuple[bool, int]:
    """Count one hit for `key`; return (allowed, seconds until the window ends)."""
    now = time.time()
    bucket = int(now // window)
    retry_after = int((bucket + 1) * window - now) + 1
    cache_key = f"ratelimit:{key}:{window}:{bucket}"
    cache = caches["default"]
    try:
        if isinstance(cache, RedisCache):
            return cache.count(cache_key, timeout=window * 2) <= limit, retry_after
        # Counting first and creating the key only for the window's first hit: one cache call
        # per hit instead of two (every post goes through here).
        try:
            count = cache.incr(cache_key)
        except ValueError:  # the window's first hit: start the count with its expiry
            if cache.add(cache_key, 1, timeout=window * 2):
                count = 1
            else:  # another process started it in between
                count = cache.incr(cache_key)
    except Exception:
        logger.warning("rate limit cache unavailable; allowing %s", key, exc_info=True)
        return True, 0
    return count <= limit, retry_after
