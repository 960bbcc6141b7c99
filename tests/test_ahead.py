"""leadflow.ahead: items produced on a thread, one ahead, errors and early stops handed back."""

from __future__ import annotations

import threading

import pytest

from leadflow.ahead import Ahead


def test_items_come_in_order_and_the_producer_stays_at_most_one_ahead():
    produced = []
    taken = []

    def items():
        for i in range(50):
            produced.append(i)
            yield i

    with Ahead(items()) as ahead:
        for item in ahead:
            taken.append(item)
            # One in the queue and one being made: never further ahead, whatever the file's size.
            assert len(produced) - len(taken) <= 2
    assert taken == list(range(50))


def test_an_error_of_the_producer_is_raised_after_the_items_before_it():
    def items():
        yield 1
        yield 2
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")

    taken = []
    with Ahead(items()) as ahead, pytest.raises(UnicodeDecodeError):
        for item in ahead:
            taken.append(item)
    assert taken == [1, 2]
    assert next(ahead, "nothing more") == "nothing more"


def test_stopping_early_closes_the_producer_on_its_own_thread():
    closed_on = []

    def items():
        try:
            i = 0
            while True:  # an endless file: only the caller's stop ends it
                yield i
                i += 1
        finally:
            closed_on.append(threading.current_thread())

    with Ahead(items()) as ahead:
        assert next(ahead) == 0
    assert len(closed_on) == 1 and closed_on[0] is not threading.current_thread()
    assert not any(t.name == "ahead" and t.is_alive() for t in threading.enumerate())
