"""A small topic read whole by every process that needs it, kept as a dict in memory.

Limits and stop signals must be visible to every worker (and the API), whichever partitions
it owns, so they are not read through a consumer group: each process assigns itself every
partition from the beginning and keeps the latest value per key. A daemon thread polls;
readers look up the dict, and one that must see every record written before now (a quota
check right after a limit changed) waits until the thread has read that far.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from projections.topic_reading import (
    READING_INTERRUPTED,
    FetchWatch,
    assign_from,
    ends,
    partitions_of,
    ungrouped_consumer_config,
    watermarks,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


class ReplicatedView(Generic[T]):
    def __init__(self, bootstrap: str, topic: str, parse: Callable[[bytes], T]) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._parse = parse
        self._values: dict[str, T] = {}
        # The next offset to read per partition, kept across consumers made again.
        self._next: dict[int, int] = {}
        self._lock = threading.Lock()
        self._progress = threading.Condition(self._lock)
        self._started = False
        self._caught_up = threading.Event()
        self._admin: AdminClient | None = None

    def get(self, key: str) -> T | None:
        self.start()
        with self._lock:
            return self._values.get(key)

    def wait_until_caught_up(self, timeout: float) -> bool:
        """Wait until the topic has been read to the end it had when reading began."""
        self.start()
        return self._caught_up.wait(timeout)

    def wait_until_current(self, timeout: float) -> bool:
        """Wait until every record the topic holds now has been read; False if that could
        not be done within `timeout` (the broker did not answer, or the reading lags)."""
        deadline = time.monotonic() + timeout
        if not self.wait_until_caught_up(timeout):
            return False
        try:
            targets = self._ends_now(max(deadline - time.monotonic(), 0.1))
        except (KafkaException, TimeoutError) as exc:
            log.warning("view of %s: could not ask how far the topic goes: %s", self._topic, exc)
            return False
        with self._progress:
            return self._progress.wait_for(
                lambda: all(self._next.get(p, 0) >= end for p, end in targets.items()),
                max(deadline - time.monotonic(), 0),
            )

    def start(self) -> None:
        """Begin reading (once); also done by the first lookup."""
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._run, name=f"view-{self._topic}", daemon=True).start()

    def _ends_now(self, timeout: float) -> dict[int, int]:
        """The topic's high-water marks, asked from the caller's thread (an admin client is
        safe to share; the polling thread's consumer is its own)."""
        with self._lock:
            partitions = list(self._next)
            if self._admin is None:
                self._admin = AdminClient({"bootstrap.servers": self._bootstrap})
            admin = self._admin
        asked = {TopicPartition(self._topic, p): OffsetSpec.latest() for p in partitions}
        answers = admin.list_offsets(asked, request_timeout=timeout) if asked else {}
        return {tp.partition: future.result(timeout).offset for tp, future in answers.items()}

    def _run(self) -> None:
        while True:
            try:
                self._read()
            except READING_INTERRUPTED as exc:
                log.warning("view of %s interrupted: %s; reading again in 1 s", self._topic, exc)
                time.sleep(1)

    def _read(self) -> None:
        consumer = Consumer(ungrouped_consumer_config(self._bootstrap, "view"))
        try:
            partitions = partitions_of(consumer, self._topic)
            marks = watermarks(consumer, self._topic, partitions)
            with self._lock:
                for partition, (low, _) in marks.items():
                    self._next.setdefault(partition, low)
                start = dict(self._next)
            assign_from(consumer, self._topic, start)
            watch = FetchWatch(self._topic, lambda: ends(consumer, self._topic, partitions))
            while True:
                message = consumer.poll(0.5)
                if message is None:
                    with self._lock:
                        read = dict(self._next)
                    if all(read[p] >= high for p, (_, high) in marks.items()):
                        self._caught_up.set()
                    watch.check(read)
                elif message.error():
                    log.warning("view of %s: %s", self._topic, message.error())
                else:
                    self._apply(message)
        finally:
            consumer.close()

    def _apply(self, message: Message) -> None:
        key, value = message.key(), message.value()
        parsed: T | None = None
        if key is not None and value is not None:
            try:
                parsed = self._parse(value)
            except ValueError as exc:
                log.warning("view of %s: unreadable value for %r: %s", self._topic, key, exc)
        with self._progress:
            if key is not None:
                name = key.decode(errors="replace")
                if value is None:
                    self._values.pop(name, None)
                elif parsed is not None:
                    self._values[name] = parsed
            self._next[message.partition() or 0] = (message.offset() or 0) + 1
            self._progress.notify_all()
