"""Reading on a thread of its own: items in order, failures where they happen, an early
stop that ends the reading thread and closes what it read from."""

from __future__ import annotations

import threading
from collections.abc import Generator

import pytest

from extraction.read_ahead import read_ahead


def test_items_come_in_order_and_all_of_them() -> None:
    def numbers() -> Generator[int, None, None]:
        yield from range(1000)

    with read_ahead(numbers, depth=1) as items:
        assert list(items) == list(range(1000))


def test_a_failure_while_reading_is_raised_after_the_items_before_it() -> None:
    def failing() -> Generator[int, None, None]:
        yield 1
        yield 2
        raise ConnectionError("server closed the connection")

    seen: list[int] = []
    with pytest.raises(ConnectionError, match="server closed"), read_ahead(failing) as items:
        seen.extend(items)
    assert seen == [1, 2]


def test_leaving_early_stops_the_reader_and_closes_its_source_on_its_thread() -> None:
    closed_on: list[str] = []
    produced: list[int] = []

    def endless() -> Generator[int, None, None]:
        try:
            n = 0
            while True:
                produced.append(n)
                yield n
                n += 1
        finally:
            closed_on.append(threading.current_thread().name)

    with pytest.raises(RuntimeError, match="writer failed"), read_ahead(endless) as items:
        for item in items:
            if item == 3:
                raise RuntimeError("writer failed")
    assert closed_on == ["read-ahead"]
    # Only a few items beyond the one that stopped it: the queue is bounded.
    assert len(produced) <= 3 + 1 + 2 + 1
    assert not any(t.name == "read-ahead" for t in threading.enumerate())


def test_a_failure_while_closing_the_source_still_ends_the_items() -> None:
    def closing_fails() -> Generator[int, None, None]:
        try:
            yield 1
            yield 2
        finally:
            raise OSError("closing the session failed")

    with pytest.raises(RuntimeError, match="stop"), read_ahead(closing_fails) as items:
        for _ in items:
            raise RuntimeError("stop")

    seen: list[int] = []
    with pytest.raises(OSError, match="closing"), read_ahead(closing_fails) as items:
        seen.extend(items)
    assert seen == [1, 2]
