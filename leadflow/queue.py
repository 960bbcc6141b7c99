"""Enqueueing Celery tasks from request code."""

from __future__ import annotations

import logging

from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.db import transaction

logger = logging.getLogger(__name__)


def _send(task, args: tuple, kwargs: dict, *, countdown: int | None = None) -> None:
    try:
        task.apply_async(args=args, kwargs=kwargs, retry=False, countdown=countdown)
    except Exception:
        logger.warning("broker unavailable: %s%r not enqueued now; it will be caught up", task.name, args)


def enqueue_on_commit(task, *args, **kwargs) -> None:
    """Send `task` to the broker once the current transaction has committed.

    Passing ids only, after commit, means the worker finds the rows it is told about. A broker
    outage is logged and swallowed, never raised into the request: the database is the source
    of truth, and the periodic jobs that read it (the follow-up dispatcher, catch-up sweeps)
    do the work once the broker is back. So a lead is saved even while Redis is down.
    """
    transaction.on_commit(lambda: _send(task, args, kwargs))


def enqueue_on_commit_debounced(task, *, key: str, seconds: int) -> None:
    """enqueue_on_commit for a task that sweeps rows (takes no arguments): at most one send per
    `seconds` for `key`, so a burst of requests gives a few runs, not one each. The run is
    sent to start `seconds` later, so that it finds the burst's rows, not the first few: a run
    has a fixed cost (the web-form drain's: ~20 statements, a notice per owner, a task for the
    batch's confirmations), and run at once each one found a handful of rows under a steady
    load (the worker spent ~1.6 ms of CPU a lead; a batch of 5 costs ten times a batch of 200
    per row).

    After commit, a cache `add` of `key` (expiring after `seconds`) decides: only the request
    that creates it sends. The task must call `debounce_reset(key)` before it reads the rows.
    Why that loses nothing: a request whose `add` finds the key committed its row before that
    moment, and the key exists because a run was sent that has not reset it yet; that run
    resets after it, then reads, so it sees the row. A key whose run was lost (broker down)
    expires after `seconds`, and the periodic sweep covers the gap.

    A cache of the process's own memory (LocMemCache: the `make run` default) is not shared
    with the worker, which could then never reset the key: there every request sends. A cache
    that cannot be reached sends too (fail open).
    """

    def send() -> None:
        cache = caches["default"]
        if not isinstance(cache, (LocMemCache, DummyCache)):
            try:
                if not cache.add(key, 1, timeout=seconds):
                    return
            except Exception:
                logger.warning("cache unavailable: sending %s without debounce", task.name, exc_info=True)
        _send(task, (), {}, countdown=seconds)

    transaction.on_commit(send)


def debounce_reset(key: str) -> None:
    """Called by a debounced task as it starts, before it reads (see enqueue_on_commit_debounced)."""
    try:
        caches["default"].delete(key)
    except Exception:
        logger.warning("cache unavailable: debounce key %s not reset", key, exc_info=True)
