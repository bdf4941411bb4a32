"""Chunk tasks are read by plain Kafka consumers (librdkafka), not by a Faust agent.

A chunk takes seconds to minutes. A Faust agent holds such an event in flight through a
rebalance: the member waits for it before it rejoins, pauses and clears its buffers, and
recovers its tables, and in one CI run in six a survivor stopped reading a dead member's
partitions after that dance (see docs/architecture.md). Long work items want a consumer
that commits each task when, and only when, it is done: here each consumer thread takes
one task at a time, runs it to the end, and commits it. So a worker killed mid-chunk has
at most one uncommitted task per thread, and that is exactly what a survivor redoes.

The consumers form their own group, `export-extractors`, with cooperative-sticky
assignment: when a member dies, the survivors keep the partitions they have and only take
over the dead member's, without stopping their own chunks. librdkafka's background thread
sends the heartbeats, so a long chunk is not silence; a dead member is out after 10 s.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

log = logging.getLogger(__name__)

GROUP = "export-extractors"
# Before this group existed, the Faust app's group read the tasks; its offsets are adopted.
FORMER_GROUP = "export-service"
# A chunk must finish within this, or the member is taken for dead and its task redone.
MAX_CHUNK_SECONDS = 30 * 60
RETRY_SECONDS = 1.0

Handler = Callable[[bytes | None, bytes], Coroutine[Any, Any, None]]


def consumer_config(bootstrap: str, client_id: str) -> dict[str, object]:
    return {
        **_group_client(bootstrap, GROUP),
        "client.id": client_id,
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
        "session.timeout.ms": 10_000,
        "heartbeat.interval.ms": 2_000,
        "max.poll.interval.ms": MAX_CHUNK_SECONDS * 1000,
        # Tasks are small and taken one at a time: prefetch little, so that tasks wait in
        # Kafka, where any member can take them, not in one member's memory.
        "queued.max.messages.kbytes": 256,
        "log_level": 3,
    }


class TaskConsumers:
    """`count` consumer threads; each hands a task to `handle` on the event loop, waits for
    it to finish, then commits it."""

    def __init__(
        self, bootstrap: str, topic: str, handle: Handler, count: int, client_id: str
    ) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._handle = handle
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(f"{client_id}-{n}",), daemon=True)
            for n in range(1, count + 1)
        ]

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float) -> None:
        """Stop taking tasks; wait up to `timeout` for running ones. A task still running is
        not committed, so another member redoes it."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def _run(self, client_id: str) -> None:
        consumer = Consumer(consumer_config(self._bootstrap, client_id))
        consumer.subscribe([self._topic])
        try:
            while not self._stop.is_set():
                message = consumer.poll(1.0)
                if message is None:
                    continue
                error = message.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        log.warning("%s: %s", client_id, error)
                    continue
                where = f"{message.topic()}[{message.partition()}]@{message.offset()}"
                work = asyncio.run_coroutine_threadsafe(
                    self._handle(message.key(), message.value() or b""), self._loop
                )
                try:
                    work.result()
                except Exception:
                    if self._stop.is_set() or self._loop.is_closed():
                        log.warning(
                            "%s: stopping; task %s left to another member", client_id, where
                        )
                        return
                    # The handler reports a task's own failures; this is the worker's (the
                    # broker unreachable for the report, say): take the same task again.
                    log.exception("%s: task %s not finished; taking it again", client_id, where)
                    _seek_back(consumer, message)
                    time.sleep(RETRY_SECONDS)
                    continue
                try:
                    consumer.commit(message=message, asynchronous=False)
                except KafkaException as exc:
                    # The partition moved to another member meanwhile; it will redo the task,
                    # which the job's fold recognises as a copy.
                    log.warning("%s: commit of %s failed: %s", client_id, where, exc)
        finally:
            consumer.close()


def _seek_back(consumer: Consumer, message: Message) -> None:
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    assert topic is not None and partition is not None and offset is not None  # a real record
    try:
        consumer.seek(TopicPartition(topic, partition, offset))
    except KafkaException as exc:  # no longer ours: its new owner starts from the commit
        log.warning("seek back failed: %s", exc)


def adopt_former_offsets(bootstrap: str, topic: str, partitions: int) -> None:
    """Start the extractors' group where the Faust group left the tasks topic, once: without
    this, a new group would read every task ever sent from the beginning."""
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    if _committed(bootstrap, GROUP, tps):
        return
    former = _committed(bootstrap, FORMER_GROUP, tps)
    if former:
        # A consumer that has not joined the group may commit for it while it has no members.
        consumer = Consumer(_group_client(bootstrap, GROUP))
        try:
            consumer.commit(offsets=former, asynchronous=False)
        finally:
            consumer.close()
        print(f"{GROUP} starts at {FORMER_GROUP}'s offsets on {topic}", file=sys.stderr)


def _group_client(bootstrap: str, group: str) -> dict[str, object]:
    """A client of `group` that commits only what it is told to."""
    return {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False}


def _committed(bootstrap: str, group: str, tps: list[TopicPartition]) -> list[TopicPartition]:
    # The consumer's own committed() rather than the admin API: on a brand-new broker (no
    # offsets topic yet) the admin call crashed the process (a segfault in CI).
    consumer = Consumer(_group_client(bootstrap, group))
    try:
        return [tp for tp in consumer.committed(tps, timeout=30) if tp.offset >= 0]
    finally:
        consumer.close()
