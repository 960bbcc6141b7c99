"""Work one item ahead on a thread: the CSV import cleans its next batch in Python while
PostgreSQL writes the current one.

psycopg2 releases the GIL while a statement runs, so a thread producing the next item gets the
interpreter while the caller waits on the database: on two cores a batch costs about
max(Python, database) instead of their sum. The queue between them is bounded, so at most
`depth` items wait (memory stays flat however long the input is).

A thread waiting for the GIL gets it only after the holder has run for the interpreter's switch
interval (5 ms by default): each time a statement returned, the caller would wait that long
for the producer to let go. While a producer runs, the interval is lowered (SWITCH_INTERVAL).

The producer must not touch the database (Django gives each thread its own connection, outside
the caller's transaction).
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

_ITEM, _END, _ERROR = range(3)
# Seconds; with 5 ms the import spent more time waiting for the GIL than it overlapped.
SWITCH_INTERVAL = 0.0002


class Ahead(Generic[T]):
    """Iterate over `items`, each produced on a thread while the caller works on the one before.

    An exception raised by `items` is raised again by the caller's next(), after the items
    produced before it. Use as a context manager (or call close()): leaving stops the producer,
    closes `items` on its own thread (its `finally` runs there) and waits for it.
    """

    def __init__(self, items: Iterator[T], *, depth: int = 1):
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._done = False
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, SWITCH_INTERVAL))
        self._thread = threading.Thread(target=self._produce, args=(items,), name="ahead", daemon=True)
        self._thread.start()

    def _produce(self, items: Iterator[T]) -> None:
        try:
            for item in items:
                if not self._put(_ITEM, item):
                    return
            self._put(_END, None)
        except BaseException as e:  # handed to the caller, who decides
            self._put(_ERROR, e)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    def _put(self, kind: int, value) -> bool:
        """Wait for room in the queue; False if the caller stopped in the meantime."""
        while not self._stop.is_set():
            try:
                self._queue.put((kind, value), timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Ahead[T]:
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        kind, value = self._queue.get()
        if kind == _ITEM:
            return value
        self._done = True
        if kind == _ERROR:
            raise value
        raise StopIteration

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        sys.setswitchinterval(self._switch_interval)

    def __enter__(self) -> Ahead[T]:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
