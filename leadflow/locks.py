"""Transaction-scoped named locks (PostgreSQL advisory locks)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection


def xact_locks(keys: Iterable[str]) -> None:
    """Hold a lock on each key until the transaction ends; another transaction taking one of
    them waits. Taken in sorted order, so two callers cannot deadlock. PostgreSQL only: on
    SQLite writers are already serialised (IMMEDIATE transactions), so it does nothing there.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for key in sorted(set(k for k in keys if k)):
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])
