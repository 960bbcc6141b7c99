"""Marking each email of a batch sent right after it went (claim → send → mark).

The senders that email a batch over one connection (the follow-up dispatcher, the web form's
confirmations) write each row's "sent" mark between two emails: the previous email's mark is
committed before the next email goes, so a crash resends at most the one email in flight (with
the same Message-ID), never the batch. `email_marks` gives the way to write those marks.
"""

from __future__ import annotations

import select
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from django.db import connection as db_connection


@dataclass(frozen=True)
class MarkStatement:
    """One row's mark: `sql` is an UPDATE taking (the time sent, the row's id) as %s, %s."""

    name: str  # of the prepared statement (unique per statement in a process)
    sql: str

    @property
    def prepare(self) -> str:
        return f"PREPARE {self.name} (timestamptz, bigint) AS " + self.sql % ("$1", "$2")


class Marks:
    """Each mark written on the caller's connection as one statement right after the email
    went (`wait` has nothing to wait for)."""

    def __init__(self, statement: MarkStatement, now: datetime):
        self.statement = statement
        self.now = now

    def wait(self) -> None:
        pass

    def mark(self, pk: int) -> None:
        with db_connection.cursor() as cursor:
            cursor.execute(self.statement.sql, [self.now, pk])


class PipelinedMarks:
    """The same UPDATE, prepared, on a second PostgreSQL connection in asynchronous mode: `mark`
    sends it (its own commit) and returns at once, so the next email is rendered while the
    database writes the mark; `wait`, before that email is sent, returns once the mark is committed
    (or raises its error). Never more than one email is sent and not yet marked, as with Marks.

    Its commits do not wait for the disk either: every such mark can be redone (a lost mark is
    one email sent again, with the same Message-ID).
    """

    def __init__(self, statement: MarkStatement, now: datetime):
        import psycopg2

        self.statement = statement
        self.now = now
        self.conn = psycopg2.connect(**db_connection.get_connection_params(), async_=True)
        try:
            self.wait()
            self.cursor = self.conn.cursor()
            self.cursor.execute(f"SET synchronous_commit TO OFF; {statement.prepare}")
            self.wait()
        except BaseException:
            self.conn.close()
            raise

    def wait(self) -> None:
        from psycopg2.extensions import POLL_OK, POLL_READ, POLL_WRITE

        while (state := self.conn.poll()) != POLL_OK:
            if state == POLL_READ:
                select.select([self.conn], [], [])
            elif state == POLL_WRITE:
                select.select([], [self.conn], [])

    def mark(self, pk: int) -> None:
        self.cursor.execute(f"EXECUTE {self.statement.name} (%s, %s)", [self.now, pk])

    @property
    def usable(self) -> bool:
        return not self.conn.closed

    def close(self) -> None:
        try:
            self.wait()  # the last mark is committed before the caller releases its claim
        finally:
            self.conn.close()


# The second connections kept open by keep_mark_connections, by thread: {statement name: marks}.
_kept = threading.local()


@contextmanager
def keep_mark_connections() -> Iterator[None]:
    """Within this, email_marks keeps its second connection from one batch to the next instead
    of opening one per batch (a dispatcher's round of many batches): each connection started a
    PostgreSQL backend and prepared the statement again, ~8 ms of a batch's time, most of it the
    database's CPU. The connections close when the block ends."""
    if getattr(_kept, "marks", None) is not None:  # nested: the outer block keeps them
        yield
        return
    _kept.marks = {}
    try:
        yield
    finally:
        kept, _kept.marks = _kept.marks, None
        for marks in kept.values():
            marks.conn.close()


@contextmanager
def email_marks(statement: MarkStatement, now: datetime) -> Iterator[Marks | PipelinedMarks]:
    """How a batch's marks are written. On PostgreSQL, pipelined on a second connection, with
    the UPDATE prepared once (parsing and planning it per email cost about as much as running
    it: the planner weighs the table's indexes each time). On SQLite, or inside a transaction
    (the in-process tests), where a second connection would not see the rows, on ours.

    Either way the batch's last mark is committed when the block ends (the caller then
    releases its claim)."""
    if db_connection.vendor != "postgresql" or db_connection.in_atomic_block:
        yield Marks(statement, now)
        return
    kept = getattr(_kept, "marks", None)
    if kept is None:
        marks = PipelinedMarks(statement, now)
        try:
            yield marks
        finally:
            marks.close()
        return
    marks = kept.pop(statement.name, None)
    if marks is None or not marks.usable:
        marks = PipelinedMarks(statement, now)
    marks.now = now
    try:
        yield marks
        marks.wait()
    except BaseException:
        marks.close()  # the last mark waited for, as without keeping; the next batch opens another
        raise
    kept[statement.name] = marks
