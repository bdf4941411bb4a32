"""Batches read on a thread of their own, a few ahead of the thread that writes them.

ADBC lets go of the GIL while it waits for and decodes PostgreSQL's rows, and Parquet's
encoder while it encodes them, so with the reading on another thread the two overlap
instead of taking turns. Only `depth` batches wait between them, so memory stays flat.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
# How long the reading thread waits on a full queue before it looks whether to stop.
_POLL_SECONDS = 0.1


class _End:
    """Put after the last batch (or after the reading failed)."""


@contextmanager
def read_ahead(
    produce: Callable[[], Generator[T, None, None]], depth: int = 2
) -> Iterator[Iterator[T]]:
    """Run `produce` on a thread and yield its items in order. A failure in `produce` is
    raised where the item would have come; leaving the block early (the writer failed, the
    export was cancelled) stops the reading thread at its next item and closes `produce`,
    so its session ends on the thread that opened it."""
    waiting: queue.Queue[T | _End] = queue.Queue(depth)
    stop = threading.Event()
    failures: list[BaseException] = []

    def offer(item: T | _End) -> bool:
        while not stop.is_set():
            try:
                waiting.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        source = produce()
        try:
            for item in source:
                if not offer(item):
                    break
        except BaseException as error:  # raised again on the writing thread
            failures.append(error)
        finally:
            try:
                source.close()  # ends its session here, on the thread that opened it
            except BaseException as error:
                failures.append(error)
            offer(_End())

    def items() -> Iterator[T]:
        while not isinstance(item := waiting.get(), _End):
            yield item
        if failures:
            raise failures[0]

    reader = threading.Thread(target=run, name="read-ahead", daemon=True)
    reader.start()
    try:
        yield items()
    finally:
        stop.set()
        reader.join()
