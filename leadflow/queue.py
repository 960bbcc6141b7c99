"""Enqueueing Celery tasks from request code."""

from __future__ import annotations

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue_on_commit(task, *args, **kwargs) -> None:
    """Send `task` to the broker once the current transaction has committed.

    Passing ids only, after commit, means the worker finds the rows it is told about. A broker
    outage is logged and swallowed, never raised into the request: the database is the source
    of truth, and the periodic jobs that read it (the follow-up dispatcher, catch-up sweeps)
    do the work once the broker is back. So a lead is saved even while Redis is down.
    """

    def send() -> None:
        try:
            task.apply_async(args=args, kwargs=kwargs, retry=False)
        except Exception:
            logger.warning("broker unavailable: %s%r not enqueued now; it will be caught up", task.name, args)

    transaction.on_commit(send)
