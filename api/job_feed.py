"""Every job event as it is appended to export.events, handed to whoever follows that job.

One consumer per API process, outside any consumer group: it reads every partition from
the end (no commits, nothing to rebalance) and passes each event of a followed job to that
follower's asyncio queue. Events of the last minute are kept too, so that a follower who
arrives while the read model is a few events behind can catch up from them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import defaultdict, deque

from confluent_kafka import Consumer

from export_contract import codec
from export_contract.models import JobEvent
from projections.topic_reading import (
    READING_INTERRUPTED,
    FetchWatch,
    assign_from,
    ends,
    partitions_of,
    ungrouped_consumer_config,
)

log = logging.getLogger(__name__)

RECENT_SECONDS = 60.0
RECENT_PER_JOB = 200


class JobFeed:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._lock = threading.Lock()
        self._followers: dict[str, set[asyncio.Queue[JobEvent]]] = defaultdict(set)
        self._recent: dict[str, deque[tuple[float, JobEvent]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pruned_at = 0.0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread = threading.Thread(target=self._run, name="job-feed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def follow(self, job_id: str) -> tuple[asyncio.Queue[JobEvent], list[JobEvent]]:
        """A queue of the job's events from now on, and its events of the last minute."""
        queue: asyncio.Queue[JobEvent] = asyncio.Queue()
        with self._lock:
            self._followers[job_id].add(queue)
            recent = [event for _, event in self._recent.get(job_id, ())]
        return queue, recent

    def unfollow(self, job_id: str, queue: asyncio.Queue[JobEvent]) -> None:
        with self._lock:
            followers = self._followers.get(job_id)
            if followers is not None:
                followers.discard(queue)
                if not followers:
                    del self._followers[job_id]

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._consume()
            except READING_INTERRUPTED as exc:  # start again from the end
                log.warning("job feed interrupted: %s; reading again in 5 s", exc)
                self._stopping.wait(5)

    def _consume(self) -> None:
        consumer = Consumer(ungrouped_consumer_config(self._bootstrap, "job-feed"))
        try:
            partitions = partitions_of(consumer, self._topic)
            next_offsets = ends(consumer, self._topic, partitions)
            assign_from(consumer, self._topic, next_offsets)
            watch = FetchWatch(self._topic, lambda: ends(consumer, self._topic, partitions))
            while not self._stopping.is_set():
                message = consumer.poll(0.5)
                if message is None:
                    watch.check(next_offsets)
                    continue
                if message.error():
                    continue
                next_offsets[message.partition() or 0] = (message.offset() or 0) + 1
                if message.value() is None:
                    continue
                try:
                    event = codec.decode(message.value() or b"")
                except codec.UndecodableMessage:
                    continue  # the job agent dead-letters it; a follower has nothing to show
                self._dispatch(event)  # type: ignore[arg-type]
        finally:
            consumer.close()

    def _dispatch(self, event: JobEvent) -> None:
        job_id = event.envelope.job_id
        now = time.monotonic()
        with self._lock:
            recent = self._recent.setdefault(job_id, deque(maxlen=RECENT_PER_JOB))
            recent.append((now, event))
            if now - self._pruned_at > 1.0:
                self._forget_older_than(now - RECENT_SECONDS)
                self._pruned_at = now
            followers = list(self._followers.get(job_id, ()))
        if followers and self._loop is not None:
            for queue in followers:
                self._loop.call_soon_threadsafe(queue.put_nowait, event)

    def _forget_older_than(self, cutoff: float) -> None:
        stale = [job for job, events in self._recent.items() if events[-1][0] < cutoff]
        for job in stale:
            del self._recent[job]
