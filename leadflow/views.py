from __future__ import annotations

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a lost database connection is a 503 "back in a moment", anything else a 500.

    Django calls this for exceptions from views and middleware alike (e.g. loading the session
    while PostgreSQL restarts). Both pages render without the database: no user, no session.
    The next request after a restart reconnects by itself (CONN_HEALTH_CHECKS), so the app
    recovers without being restarted.
    """
    exc = sys.exc_info()[1]
    if isinstance(exc, (OperationalError, InterfaceError)):
        logger.warning("database unavailable: %s %s: %s", request.method, request.path, exc)
        return HttpResponse(render_to_string("503.html"), status=503, headers={"Retry-After": "5"})
    return HttpResponse(render_to_string("500.html"), status=500)
