"""Per-IP rate limiting on Django's cache (Redis in production, local memory otherwise).

Why not django-ratelimit: it refuses LocMemCache (E003), which is what the app runs on with no
configuration, and warns on Django's built-in Redis cache (W001) because that backend's
`incr` is an EXISTS then an INCR: if the key expires in between, INCR creates it with no
expiry, and a counter that never expires would block that IP for good. Here a hit is our
caches' `count` (leadflow.cache): with Redis, INCR and EXPIRE in one server-side script, one
round trip, so the counter never lives without its expiry and all web processes share one
count; with local memory (no Redis configured) each process counts alone, under the cache's
lock (fine for one process in development). Every counter key carries its window's number as
well, so a key is never read again once its window is over.

A cache outage must not stop leads: when the cache is unreachable the request is allowed
(fail open) and a warning is logged; honeypot, fill time and idempotency still apply.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest

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
    try:
        count = caches["default"].count(cache_key, timeout=window * 2)
    except Exception:
        logger.warning("rate limit cache unavailable; allowing %s", key, exc_info=True)
        return True, 0
    return count <= limit, retry_after
