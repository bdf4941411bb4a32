"""A small topic read whole by every process that needs it, kept as a dict in memory.

Limits and stop signals must be visible to every worker (and the API), whichever partitions
it owns, so they are not read through a consumer group: each process assigns itself every
partition from the beginning and keeps the latest value per key. A daemon thread polls;
readers only look up the dict.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from typing import Generic, TypeVar

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from observability.logs import kafka_client_logging

log = logging.getLogger(__name__)

T = TypeVar("T")


def ungrouped_consumer_config(bootstrap: str, purpose: str) -> dict[str, object]:
    """A consumer that assigns itself partitions: outside any group, committing nothing."""
    return {
        "bootstrap.servers": bootstrap,
        # Required by the client, never used: offsets are assigned, not committed.
        "group.id": f"{purpose}-{uuid.uuid4()}",
        "enable.auto.commit": False,
        "log_level": 3,
        **kafka_client_logging(),
    }


def assign_whole_topic(consumer: Consumer, topic: str, offset: int) -> list[int]:
    """Assign every partition of `topic` from `offset` (OFFSET_BEGINNING or OFFSET_END)."""
    metadata = consumer.list_topics(topic, timeout=30)
    partitions = list(metadata.topics[topic].partitions)
    consumer.assign([TopicPartition(topic, p, offset) for p in partitions])
    return partitions


class ReplicatedView(Generic[T]):
    def __init__(self, bootstrap: str, topic: str, parse: Callable[[bytes], T]) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._parse = parse
        self._values: dict[str, T] = {}
        self._lock = threading.Lock()
        self._started = False
        self._caught_up = threading.Event()

    def get(self, key: str) -> T | None:
        self.start()
        with self._lock:
            return self._values.get(key)

    def wait_until_caught_up(self, timeout: float) -> bool:
        self.start()
        return self._caught_up.wait(timeout)

    def start(self) -> None:
        """Begin reading (once); also done by the first lookup."""
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._run, name=f"view-{self._topic}", daemon=True).start()

    def _run(self) -> None:
        consumer = Consumer(ungrouped_consumer_config(self._bootstrap, "view"))
        try:
            partitions = assign_whole_topic(consumer, self._topic, OFFSET_BEGINNING)
            ends = {
                p: consumer.get_watermark_offsets(TopicPartition(self._topic, p))[1]
                for p in partitions
            }
            while True:
                message = consumer.poll(0.5)
                if message is None:
                    if not self._caught_up.is_set() and self._at_end(consumer, ends):
                        self._caught_up.set()
                    continue
                if message.error():
                    log.warning("view of %s: %s", self._topic, message.error())
                    continue
                self._apply(message.key(), message.value())
        except KafkaException:
            log.exception("view of %s stopped", self._topic)

    def _at_end(self, consumer: Consumer, ends: dict[int, int]) -> bool:
        positions = consumer.position([TopicPartition(self._topic, p) for p in ends])
        # A negative position means nothing was fetched yet: caught up only if empty.
        return all(
            tp.offset >= ends[tp.partition] if tp.offset >= 0 else ends[tp.partition] == 0
            for tp in positions
        )

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        name = key.decode(errors="replace")
        if value is None:
            with self._lock:
                self._values.pop(name, None)
            return
        try:
            parsed = self._parse(value)
        except ValueError as exc:
            log.warning("view of %s: unreadable value for %r: %s", self._topic, name, exc)
            return
        with self._lock:
            self._values[name] = parsed
