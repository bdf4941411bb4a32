"""Lag is what the group has not committed; an outage is logged once, not every round; the
reader service runs the monitor while it runs."""

from __future__ import annotations

import logging
from typing import Any, cast

import pytest
from confluent_kafka import OFFSET_INVALID, KafkaError, KafkaException, TopicPartition

from observability.lag import LagMonitor, LagReader, partition_lag
from observability.metrics import CONSUMER_LAG


def test_lag_is_the_high_watermark_less_the_commit() -> None:
    assert partition_lag(committed=40, low=0, high=100) == 60
    assert partition_lag(committed=100, low=0, high=100) == 0


def test_without_a_commit_every_message_on_the_partition_counts() -> None:
    assert partition_lag(committed=None, low=10, high=100) == 90
    assert partition_lag(committed=OFFSET_INVALID, low=10, high=100) == 90


def test_a_commit_older_than_the_retained_messages_counts_only_those_left() -> None:
    assert partition_lag(committed=5, low=50, high=100) == 50


def test_a_commit_ahead_of_a_stale_watermark_is_no_lag() -> None:
    assert partition_lag(committed=120, low=0, high=100) == 0


class FakeConsumer:
    """Answers as a broker would, or fails while `down` is set."""

    def __init__(self, committed: dict[tuple[str, int], int], highs: dict[str, int]) -> None:
        self.committed_offsets = committed
        self.highs = highs
        self.down = False

    def committed(self, tps: list[TopicPartition], timeout: float) -> list[TopicPartition]:
        if self.down:
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT))
        offsets = self.committed_offsets
        return [
            TopicPartition(tp.topic, tp.partition, offsets.get((tp.topic, tp.partition), -1001))
            for tp in tps
        ]

    def get_watermark_offsets(
        self, tp: TopicPartition, timeout: float, cached: bool
    ) -> tuple[int, int]:
        assert not cached  # a cached watermark is only as new as the last fetch
        return 0, self.highs[tp.topic] + tp.partition


def lag(group: str, topic: str, partition: int) -> float:
    value: Any = CONSUMER_LAG.labels(group, topic, str(partition))._value.get()
    return float(value)


def test_a_round_sets_the_gauge_for_every_group_and_partition() -> None:
    monitor = LagMonitor("unused:9092", {"g-a": ["t-a"], "g-b": ["t-a", "t-b"]}, 2, 5)
    a = FakeConsumer({("t-a", 0): 7, ("t-a", 1): 8}, {"t-a": 10, "t-b": 20})
    b = FakeConsumer({("t-b", 1): 21}, {"t-a": 10, "t-b": 20})
    monitor._round({"g-a": a, "g-b": b})  # type: ignore[dict-item]
    assert [lag("g-a", "t-a", p) for p in (0, 1)] == [3, 3]
    assert [lag("g-b", "t-a", p) for p in (0, 1)] == [10, 11]
    assert [lag("g-b", "t-b", p) for p in (0, 1)] == [20, 0]
    assert monitor.high_watermark("t-b", 1) == 21 and monitor.high_watermark("t-c", 0) is None
    assert monitor.updated_at() is not None


def test_an_outage_is_logged_once_and_its_end_once(caplog: pytest.LogCaptureFixture) -> None:
    monitor = LagMonitor("unused:9092", {"g": ["t"]}, 1, 5)
    consumer = FakeConsumer({}, {"t": 1})
    consumers: Any = {"g": consumer}
    consumer.down = True
    with caplog.at_level(logging.INFO, logger="observability.lag"):
        for _ in range(3):
            monitor._round(consumers)
        assert monitor.updated_at() is None
        consumer.down = False
        monitor._round(consumers)
        monitor._round(consumers)
    levels = [(r.levelname, r.getMessage().split(":")[0]) for r in caplog.records]
    assert levels == [("WARNING", "consumer lag not read"), ("INFO", "consumer lag read again")]
    assert monitor.updated_at() is not None


def test_the_thread_starts_and_stops_without_a_broker() -> None:
    monitor = LagMonitor("127.0.0.1:1", {"g": ["t"]}, 1, 60, request_timeout=0.2)
    monitor.start()
    monitor.stop()
    assert monitor.updated_at() is None


def test_topics_of_different_partition_counts_are_read_each_by_its_own_count() -> None:
    monitor = LagMonitor("unused:9092", {"g": ["wide", "narrow"]}, {"wide": 2, "narrow": 1}, 5)
    consumer = FakeConsumer({("wide", 1): 4, ("narrow", 0): 1}, {"wide": 5, "narrow": 3})
    monitor._round({"g": consumer})  # type: ignore[dict-item]
    assert [lag("g", "wide", p) for p in (0, 1)] == [5, 2]  # the fake's highs grow by partition
    assert lag("g", "narrow", 0) == 2
    assert monitor.high_watermark("narrow", 1) is None


class _CountingMonitor:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def start(self) -> None:
        self.calls.append("start")

    def stop(self) -> None:
        self.calls.append("stop")


async def test_the_lag_reader_runs_its_monitor_for_as_long_as_it_runs() -> None:
    monitor = _CountingMonitor()
    reader = LagReader(cast(LagMonitor, monitor))
    await reader.start()
    assert monitor.calls == ["start"]
    await reader.stop()
    assert monitor.calls == ["start", "stop"]
