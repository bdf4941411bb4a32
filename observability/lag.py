"""Consumer lag, read from the broker by a thread of its own and published as a gauge.

Each round reads every watched group's committed offsets and the high watermark of every
partition of their topics, and sets `CONSUMER_LAG` to the difference. It uses one plain
Consumer per group, never subscribed: `committed()` answers for the consumer's own
`group.id`, and a consumer that never joins cannot disturb the group it reads.

`LagReader` runs a monitor for as long as a service runs: a worker starts it before its Faust
app, so the Kafka check of its readiness says what the broker does from the first probe on,
through the group join and the first table recovery too.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import mode
from confluent_kafka import OFFSET_INVALID, Consumer, KafkaException, TopicPartition

from observability.metrics import CONSUMER_LAG

log = logging.getLogger(__name__)

# A client that only asks, and says nothing itself: librdkafka would print a line per
# reconnection (twenty a second while the broker is down); the monitor logs the outage once.
CLIENT_CONFIG: dict[str, object] = {
    "enable.auto.commit": False,
    "log_level": 0,
    # Fewer reconnection attempts while the broker is away: an idle worker should stay idle.
    "reconnect.backoff.ms": 1000,
    "reconnect.backoff.max.ms": 5000,
}


def partition_lag(committed: int | None, low: int, high: int) -> int:
    """Messages on a partition the group has not committed.

    With no commit (None, or librdkafka's negative "invalid" offset) every message still on
    the partition counts. A commit older than the low watermark counts only what is left.
    """
    start = low if committed is None or committed < 0 else max(committed, low)
    return max(high - start, 0)


class LagMonitor:
    """Reads the lag of `groups` (group id → its topics) every `interval` seconds.

    `partitions` is each topic's partition count (an int: every topic has that many)."""

    def __init__(
        self,
        bootstrap: str,
        groups: Mapping[str, Sequence[str]],
        partitions: Mapping[str, int] | int,
        interval: float,
        *,
        request_timeout: float = 5.0,
    ) -> None:
        self._bootstrap = bootstrap
        self._groups = {group: list(topics) for group, topics in groups.items()}
        self._partitions = partitions
        self._interval = interval
        self._timeout = request_timeout
        self._highs: dict[tuple[str, int], int] = {}
        self._updated_at: float | None = None
        self._failing = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        # An event per run: a thread that outlived stop()'s wait still sees its own set.
        self._stopping = threading.Event()
        # Made here, so a bad configuration fails the caller rather than the thread.
        consumers = {
            group: Consumer(
                {**CLIENT_CONFIG, "bootstrap.servers": self._bootstrap, "group.id": group}
            )
            for group in self._groups
        }
        self._thread = threading.Thread(
            target=self._run, args=(consumers, self._stopping), name="lag-monitor", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop and wait for the round in progress (at most one request timeout)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping.set()
        thread.join(self._timeout + 1.0)

    def high_watermark(self, topic: str, partition: int) -> int | None:
        """The partition's latest high watermark read, or None before the first."""
        return self._highs.get((topic, partition))

    def updated_at(self) -> float | None:
        """`time.monotonic()` at the end of the last complete round, or None before one."""
        return self._updated_at

    def _run(self, consumers: Mapping[str, Consumer], stopping: threading.Event) -> None:
        try:
            while not stopping.is_set():
                self._round(consumers)
                stopping.wait(self._interval)
        finally:
            for consumer in consumers.values():
                consumer.close()

    def _round(self, consumers: Mapping[str, Consumer]) -> None:
        try:
            self._read(consumers)
        except Exception as exc:  # the thread must outlive any outage
            if not self._failing:
                self._failing = True
                log.warning(
                    "consumer lag not read: %s; retrying every %g s quietly",
                    exc,
                    self._interval,
                    exc_info=not isinstance(exc, KafkaException),
                )
            return
        if self._failing:
            self._failing = False
            log.info("consumer lag read again")
        self._updated_at = time.monotonic()

    def _read(self, consumers: Mapping[str, Consumer]) -> None:
        # Commits first, then watermarks: a commit made in between can only make the lag
        # look larger, never negative.
        committed = {
            group: consumers[group].committed(self._partitions_of(topics), timeout=self._timeout)
            for group, topics in self._groups.items()
        }
        any_consumer = next(iter(consumers.values()), None)
        if any_consumer is None:
            return
        watermarks: dict[tuple[str, int], tuple[int, int]] = {}
        for tp in self._partitions_of(sorted({t for ts in self._groups.values() for t in ts})):
            offsets = any_consumer.get_watermark_offsets(tp, timeout=self._timeout, cached=False)
            if offsets is None:  # what confluent-kafka returns on a timeout
                raise KafkaException(f"no watermarks of {tp.topic}[{tp.partition}] in time")
            watermarks[(tp.topic, tp.partition)] = offsets
            self._highs[(tp.topic, tp.partition)] = offsets[1]
        for group, tps in committed.items():
            for tp in tps:
                low, high = watermarks[(tp.topic, tp.partition)]
                offset = None if tp.error is not None or tp.offset == OFFSET_INVALID else tp.offset
                lag = partition_lag(offset, low, high)
                CONSUMER_LAG.labels(group, tp.topic, str(tp.partition)).set(lag)

    def _partitions_of(self, topics: Sequence[str]) -> list[TopicPartition]:
        return [TopicPartition(t, p) for t in topics for p in range(self._count(t))]

    def _count(self, topic: str) -> int:
        if isinstance(self._partitions, int):
            return self._partitions
        return self._partitions[topic]


class LagReader(mode.Service):
    """Starts `monitor` with the service and stops it with the service."""

    def __init__(self, monitor: LagMonitor, **kwargs: Any) -> None:
        self.monitor = monitor
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        self.monitor.start()

    async def on_stop(self) -> None:
        # Waits for the round in progress, which may be blocked on the broker.
        await asyncio.to_thread(self.monitor.stop)
