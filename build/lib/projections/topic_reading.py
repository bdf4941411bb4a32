"""Reading a topic whole, outside any consumer group, and noticing when the reading stops.

The limits, the stop signals and the API's job feed are read this way: the process assigns
itself every partition (nothing is committed, nothing rebalances). librdkafka's assigned
consumers have been seen to stop fetching after a broker restart, silently, until the consumer
is made again, so each reader keeps the next offset it owes itself per partition and a
`FetchWatch` compares it with the broker's high-water marks now and then.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping

from confluent_kafka import Consumer, KafkaException, TopicPartition

from observability.logs import kafka_client_logging
from observability.metrics import READERS_REMADE

log = logging.getLogger(__name__)

# How often an idle reader asks the broker how far each partition goes.
CHECK_SECONDS = 5.0


class StoppedFetching(Exception):
    """The consumer is behind the broker and has not moved since the last check."""


class TopicUnavailable(Exception):
    """The broker does not (yet) describe the topic's partitions, e.g. right after it started."""


# What makes a reader start again, after a pause, from the offsets it owes itself.
READING_INTERRUPTED = (KafkaException, StoppedFetching, TopicUnavailable)


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


def partitions_of(consumer: Consumer, topic: str) -> list[int]:
    """The topic's partitions; an empty answer would read as an empty topic, so it is refused."""
    described = consumer.list_topics(topic, timeout=30).topics.get(topic)
    if described is None or described.error is not None or not described.partitions:
        reason = described.error if described is not None else "not in the metadata"
        raise TopicUnavailable(f"{topic}: {reason}")
    return sorted(described.partitions)


def watermarks(consumer: Consumer, topic: str, partitions: list[int]) -> dict[int, tuple[int, int]]:
    """Each partition's first and next offset now, asked of the broker (not the cached ones)."""
    marks = {}
    for partition in partitions:
        low, high = consumer.get_watermark_offsets(
            TopicPartition(topic, partition), timeout=10, cached=False
        )
        marks[partition] = (low, high)
    return marks


def ends(consumer: Consumer, topic: str, partitions: list[int]) -> dict[int, int]:
    """Each partition's next offset now (its high-water mark)."""
    return {p: high for p, (_, high) in watermarks(consumer, topic, partitions).items()}


def assign_from(consumer: Consumer, topic: str, next_offsets: Mapping[int, int]) -> None:
    consumer.assign([TopicPartition(topic, p, offset) for p, offset in next_offsets.items()])


class FetchWatch:
    """Raises `StoppedFetching` when a partition was behind at two checks in a row without
    its next offset moving; the reader then makes its consumer again from where it was."""

    def __init__(
        self,
        topic: str,
        ends: Callable[[], Mapping[int, int]],
        every: float = CHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._topic = topic
        self._ends = ends
        self._every = every
        self._clock = clock
        self._checked_at = clock()
        self._behind: dict[int, int] = {}

    def check(self, next_offsets: Mapping[int, int]) -> None:
        """Called when a poll brought nothing; asks the broker at most every `every` s."""
        now = self._clock()
        if now - self._checked_at < self._every:
            return
        self._checked_at = now
        behind = {
            partition: next_offsets.get(partition, 0)
            for partition, end in self._ends().items()
            if next_offsets.get(partition, 0) < end
        }
        stuck = {p: offset for p, offset in behind.items() if self._behind.get(p) == offset}
        self._behind = behind
        if stuck:
            READERS_REMADE.labels(self._topic).inc()
            log.warning(
                "reader of %s stopped fetching at %s (partition: next offset) although the "
                "broker has more; making its consumer again",
                self._topic,
                stuck,
            )
            self._behind = {}
            raise StoppedFetching(stuck)
