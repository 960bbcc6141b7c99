"""Transaction-scoped named locks (PostgreSQL advisory locks)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection


def xact_locks(keys: Iterable[str]) -> None:
    """Hold a lock on each key until the transaction ends; another transaction taking one of
    them waits. Taken in sorted order, so two callers cannot deadlock. PostgreSQL only: on
    SQLite writers are already serialised (IMMEDIATE transactions), so it does nothing there.
    """
    sql, params = xact_locks_sql(keys)
    if sql:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


def xact_locks_sql(keys: Iterable[str]) -> tuple[str, list]:
    """The statement of xact_locks, for a caller that sends it together with the statement it
    guards (intake.services.webform_submit); ("", []) off PostgreSQL or with no keys.

    One statement for all the keys (a web-form post takes two): unnest returns the sorted
    array's elements in order, and each lock is taken as its row is produced.
    """
    if connection.vendor != "postgresql":
        return "", []
    ordered = sorted(set(k for k in keys if k))
    if not ordered:
        return "", []
    return "SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest(%s::text[]) AS k", [ordered]
