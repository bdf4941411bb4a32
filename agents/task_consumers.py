"""Long tasks (chunk extractions, delivery attempts) are read by plain Kafka consumers
(librdkafka), not by Faust agents.

A chunk takes seconds to minutes; a delivery attempt waits out its backoff (up to 15
minutes) and then uploads. A Faust agent holds such an event in flight through a
rebalance: the member waits for it before it rejoins, pauses and clears its buffers, and
recovers its tables, so every agent of the worker stands still meanwhile (see
docs/architecture.md). Long work items want a consumer that commits each task when, and
only when, it is done: here each consumer thread takes one task at a time, runs it to the
end, and commits it. So a worker killed mid-task has at most one uncommitted task per
thread, and that is exactly what a survivor redoes.

Each kind of task has its own group (`export-extractors`, `export-deliverers`), with
cooperative-sticky assignment: when a member dies, the survivors keep the partitions they
have and only take over the dead member's, without stopping their own tasks. librdkafka's
background thread sends the heartbeats, so a long task is not silence; a dead member is out
after 10 s.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from dataclasses import dataclass

import mode
from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from agents.runner import Received, TaskHandler
from config.settings import Settings
from config.topology import APP_GROUP, DELIVERERS_GROUP, EXTRACTORS_GROUP
from observability.logs import kafka_client_logging

log = logging.getLogger(__name__)

# Before these groups existed, the Faust app's group read the tasks; its offsets are adopted.
FORMER_GROUP = APP_GROUP
RETRY_SECONDS = 1.0


@dataclass(frozen=True)
class TaskKind:
    """One kind of task: where it is read (broker and topic), by which group, and how long
    one may run before its member is taken for dead and the task is redone elsewhere."""

    bootstrap: str
    topic: str
    group: str
    max_seconds: int


# A chunk takes seconds; one still running after 30 minutes is taken for lost.
MAX_CHUNK_SECONDS = 30 * 60
# A delivery attempt waits out its backoff (at most 15 minutes), then uploads the files.
MAX_DELIVERY_SECONDS = 2 * 60 * 60


def extraction_tasks(settings: Settings) -> TaskKind:
    return TaskKind(
        settings.kafka_bootstrap_servers,
        settings.tasks_topic,
        EXTRACTORS_GROUP,
        MAX_CHUNK_SECONDS,
    )


def delivery_tasks(settings: Settings) -> TaskKind:
    return TaskKind(
        settings.kafka_bootstrap_servers,
        settings.deliveries_topic,
        DELIVERERS_GROUP,
        MAX_DELIVERY_SECONDS,
    )


def consumer_config(kind: TaskKind, client_id: str) -> dict[str, object]:
    return {
        **_group_client(kind.bootstrap, kind.group),
        "client.id": client_id,
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
        "session.timeout.ms": 10_000,
        "heartbeat.interval.ms": 2_000,
        "max.poll.interval.ms": kind.max_seconds * 1000,
        # Tasks are small and taken one at a time: prefetch little, so that tasks wait in
        # Kafka, where any member can take them, not in one member's memory.
        "queued.max.messages.kbytes": 256,
        "log_level": 3,
        **kafka_client_logging(),
    }


class TaskConsumers:
    """`count` consumer threads; each hands a task to `handle` on the event loop, waits for
    it to finish, then commits it."""

    def __init__(self, kind: TaskKind, handle: TaskHandler, count: int, client_id: str) -> None:
        self._kind = kind
        self._handle = handle
        self._stop = threading.Event()
        # Consumers that have been through a rebalance and know their share.
        self._assigned: set[str] = set()
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
        # One deadline for all: four deliverers waiting out a backoff once took 4 x timeout.
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def assigned(self) -> bool:
        return len(self._assigned) == len(self._threads)

    def _run(self, client_id: str) -> None:
        consumer = Consumer(consumer_config(self._kind, client_id))

        def on_assign(_consumer: Consumer, _partitions: list[TopicPartition]) -> None:
            self._assigned.add(client_id)

        consumer.subscribe([self._kind.topic], on_assign=on_assign)
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
                received = Received(
                    topic=message.topic() or self._kind.topic,
                    partition=message.partition() or 0,
                    offset=message.offset() or 0,
                    key=message.key(),
                    value=message.value() or b"",
                )
                work = asyncio.run_coroutine_threadsafe(self._handle(received), self._loop)
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


class TaskConsumerService(mode.Service):
    """A kind's consumers, started and stopped with the worker (add it to the app's services).

    `stop_seconds` is how long running tasks get to finish on stop; one still running is
    redone elsewhere."""

    def __init__(
        self, kind: TaskKind, handler: TaskHandler, count: int, client_id: str, stop_seconds: float
    ) -> None:
        super().__init__()
        self.consumers = TaskConsumers(kind, handler, count, client_id)
        self._stop_seconds = stop_seconds

    async def on_start(self) -> None:
        self.consumers.start(asyncio.get_running_loop())

    async def on_stop(self) -> None:
        await asyncio.to_thread(self.consumers.stop, self._stop_seconds)

    def assigned(self) -> bool:
        """Every consumer has joined its group and been given its share (perhaps none)."""
        return self.consumers.assigned()


def _seek_back(consumer: Consumer, message: Message) -> None:
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    assert topic is not None and partition is not None and offset is not None  # a real record
    try:
        consumer.seek(TopicPartition(topic, partition, offset))
    except KafkaException as exc:  # no longer ours: its new owner starts from the commit
        log.warning("seek back failed: %s", exc)


def adopt_former_offsets(kind: TaskKind, partitions: int) -> None:
    """Start the kind's group where the Faust group left its topic, once: without this, a
    new group would read every task ever sent from the beginning."""
    tps = [TopicPartition(kind.topic, p) for p in range(partitions)]
    if committed_offsets(kind.bootstrap, kind.group, tps):
        return
    former = committed_offsets(kind.bootstrap, FORMER_GROUP, tps)
    if former:
        # A consumer that has not joined the group may commit for it while it has no members.
        consumer = Consumer(_group_client(kind.bootstrap, kind.group))
        try:
            consumer.commit(offsets=former, asynchronous=False)
        finally:
            consumer.close()
        print(f"{kind.group} starts at {FORMER_GROUP}'s offsets on {kind.topic}", file=sys.stderr)


def start_offsets(
    bootstrap: str, group: str, tps: list[TopicPartition], timeout: float = 30.0
) -> list[TopicPartition]:
    """Where the group's readers begin each partition: its commit, or for a partition the
    group never committed, the partition's first offset (they read from the earliest)."""
    committed = committed_offsets(bootstrap, group, tps, timeout)
    known = {(c.topic, c.partition) for c in committed}
    consumer = Consumer(_group_client(bootstrap, group))
    try:
        first = [
            TopicPartition(tp.topic, tp.partition, consumer.get_watermark_offsets(tp, timeout)[0])
            for tp in tps
            if (tp.topic, tp.partition) not in known
        ]
    finally:
        consumer.close()
    return committed + first


def _group_client(bootstrap: str, group: str) -> dict[str, object]:
    """A client of `group` that commits only what it is told to."""
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        **kafka_client_logging(),
    }


COORDINATOR_STARTING = {
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
}


def committed_offsets(
    bootstrap: str, group: str, tps: list[TopicPartition], timeout: float = 30.0
) -> list[TopicPartition]:
    """The group's committed offsets of those partitions that have one."""
    # The consumer's own committed() rather than the admin API: on a brand-new broker (no
    # offsets topic yet) the admin call crashed the process (a segfault in CI).
    deadline = time.monotonic() + timeout
    while True:
        consumer = Consumer(_group_client(bootstrap, group))
        try:
            left = max(1.0, deadline - time.monotonic())
            return [tp for tp in consumer.committed(tps, timeout=left) if tp.offset >= 0]
        except KafkaException as exc:
            # A broker just started may still be placing the group's coordinator: soon over.
            error = exc.args[0]
            starting = error.code() in COORDINATOR_STARTING or error.retriable()
            if not starting or time.monotonic() >= deadline:
                raise
        finally:
            consumer.close()
        time.sleep(0.5)
