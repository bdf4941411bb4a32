"""The stall guard (stall_guard.py) wired to a running Faust app.

Agents report every offset they take (through the runner); on each rebalance the guard
learns where the group's commit stands for the new partitions (or, for a partition never
committed, its first offset); a timer compares, every second, what each partition owes its
agent with Faust's commit and the broker's high-water mark, and seeks the partitions the
guard names back to the offset owed. A stall is logged once, with everything Faust and
aiokafka know of the partition, so its cause can be read off the log; healed and detected
stalls are counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import faust
from confluent_kafka import KafkaException, TopicPartition
from faust.types import TP

from agents.faust_patches.stall_guard import Stall, StallGuard
from agents.runner import SlowHandler
from agents.task_consumers import start_offsets
from observability.metrics import (
    SECONDS_SINCE_HANDOVER,
    SLOW_HANDLERS,
    STALLS_DETECTED,
    STALLS_HEALED,
)

log = logging.getLogger(__name__)

CHECK_SECONDS = 1.0

HighWater = Callable[[str, int], int | None]
# Handlers running longer than the given seconds, and where each waits.
SlowHandlers = Callable[[float, float], list[SlowHandler]]
# When the handler now running in the agent reading a topic began, if one runs.
BusySince = Callable[[str], float | None]


class StallWatch:
    def __init__(
        self,
        app: faust.App,
        guard: StallGuard,
        watched_topics: Callable[[], set[str]],
        busy_since: BusySince,
        longest_busy_since: Callable[[], float | None],
        slow_handlers: SlowHandlers,
        broker_highwater: HighWater,
        broker_unreachable: Callable[[], bool],
        bootstrap: str,
        on_give_up: Callable[[list[Stall]], None],
    ) -> None:
        self._app = app
        self._guard = guard
        self._watched_topics = watched_topics
        self._busy_since = busy_since
        self._longest_busy_since = longest_busy_since
        self._slow_handlers = slow_handlers
        # The messages whose slow handling was logged already (agent, topic, partition, offset).
        self._slow_logged: set[tuple[str, str, int, int]] = set()
        self._broker_highwater = broker_highwater
        self._broker_unreachable = broker_unreachable
        self._bootstrap = bootstrap
        self._on_give_up = on_give_up
        self.gave_up: list[Stall] = []

    def install(self) -> None:
        self._app.on_partitions_assigned.connect(self._on_assigned)
        self._app.timer(CHECK_SECONDS, name="stall-guard")(self.check)

    def handed_over(self, tp: TP, offset: int) -> None:
        self._guard.handed_over(tp, offset, time.monotonic())

    async def _on_assigned(self, sender: Any, /, *args: Any, **kwargs: Any) -> None:
        assigned: set[TP] = args[0]  # Faust sends the new assignment as the one argument
        watched = [tp for tp in assigned if tp.topic in self._watched_topics()]
        # What the group has committed now, before this member commits anything: where the
        # previous owner stopped. Faust's own record of it is only filled in after recovery.
        # A partition never committed starts at its first offset: a command sent to it while
        # the worker joined was otherwise owed to nobody, and sat unread until a restart.
        try:
            committed = await asyncio.to_thread(
                start_offsets,
                self._bootstrap,
                self._app.conf.id,  # the Faust app's consumer group
                [TopicPartition(tp.topic, tp.partition) for tp in watched],
                timeout=5.0,
            )
        except KafkaException as exc:  # the rebalance must not wait on this; lose the baseline
            log.warning("committed offsets unknown after the rebalance: %s", exc)
            committed = []
        baseline = {TP(c.topic, c.partition): c.offset for c in committed}
        self._guard.assigned(watched, baseline, time.monotonic())

    def settled(self) -> bool:
        """Faust is between rebalances, its tables recovered and its flow running."""
        app: Any = self._app
        return (
            not app.rebalancing
            and app.flow_control.is_active()
            and app.tables.recovery.completed.is_set()
        )

    async def check(self) -> None:
        now = time.monotonic()
        for tp, seconds in self._guard.seconds_since_handover(now).items():
            SECONDS_SINCE_HANDOVER.labels(tp.topic, str(tp.partition)).set(seconds)
        self._log_slow_handlers(now)
        if not self.settled():
            return  # Faust seeks every partition to its commit at the end of a rebalance
        if self._broker_unreachable():
            self._guard.restart_clocks()
            return
        consumer: Any = self._app.consumer
        assignment = [tp for tp in consumer.assignment() if tp.topic in self._watched_topics()]
        committed = {tp: consumer._committed_offset.get(tp) for tp in assignment}
        highwater = {tp: self._highwater(consumer, tp) for tp in assignment}
        verdict = self._guard.check(now, highwater, committed, self._idle(now))
        for stall in verdict.detected:
            STALLS_DETECTED.labels(stall.tp.topic).inc()
            log.warning(
                "%s[%d] %s: offset %d owed to the agent, high-water mark %s, Faust committed %s;"
                " reading it again from %d. State: %s",
                stall.tp.topic,
                stall.tp.partition,
                stall.reason,
                stall.owed,
                stall.highwater,
                stall.committed,
                stall.owed,
                describe(self._app, stall.tp),
            )
        for reread in verdict.rereads:
            await consumer.seek(reread.tp, reread.offset)
        for healed in self._guard.healed():
            STALLS_HEALED.labels(healed.tp.topic).inc()
            log.warning(
                "%s[%d]: offset %d handed over %.1f s after the stall was found",
                healed.tp.topic,
                healed.tp.partition,
                healed.offset,
                healed.seconds,
            )
        if verdict.gave_up:
            self.gave_up = verdict.gave_up
            self._on_give_up(verdict.gave_up)

    def _log_slow_handlers(self, now: float) -> None:
        """A handler that runs past the stall interval holds its agent's partitions: not a
        stall the guard can heal by reading again, so it is logged once, with where it waits."""
        slow = self._slow_handlers(now, self._guard.stall_seconds)
        current = set()
        for handler in slow:
            m = handler.message
            key = (handler.agent, m.topic, m.partition, m.offset)
            current.add(key)
            if key in self._slow_logged:
                continue
            SLOW_HANDLERS.labels(handler.agent).inc()
            log.warning(
                "%s has been handling %s[%d]@%d for %.0f s; its partitions wait. Awaiting: %s",
                handler.agent,
                m.topic,
                m.partition,
                m.offset,
                handler.seconds,
                " > ".join(handler.awaiting) or "?",
            )
        self._slow_logged = current

    def _highwater(self, consumer: Any, tp: TP) -> int | None:
        """The broker's mark (read apart from Faust) or aiokafka's, whichever is later."""
        marks = [self._broker_highwater(tp.topic, tp.partition)]
        # aiokafka knows no mark before its first fetch of the partition.
        with contextlib.suppress(Exception):
            marks.append(consumer.highwater(tp))
        known = [mark for mark in marks if mark is not None and mark >= 0]
        return max(known, default=None)

    def _idle(self, now: float) -> Callable[[TP], bool]:
        # A handler running longer than the interval may have filled its stream's buffer,
        # and then Faust's one fetcher waits on it and every agent waits: that is slowness,
        # not a stall, and reading a partition again would not help.
        longest = self._longest_busy_since()
        if longest is not None and now - longest > self._guard.stall_seconds:
            return lambda _tp: False
        return lambda tp: self._busy_since(tp.topic) is None


def describe(app: faust.App, tp: TP) -> str:
    """What Faust and aiokafka know of one partition: best effort, from private attributes."""
    consumer: Any = app.consumer
    facts: list[str] = []

    def fact(name: str, read: Callable[[], object]) -> None:
        try:
            facts.append(f"{name}={read()}")
        except Exception as exc:  # private attributes move between versions
            facts.append(f"{name}=? ({type(exc).__name__})")

    fact("faust_read_offset", lambda: consumer._read_offset.get(tp))
    fact("faust_committed", lambda: consumer._committed_offset.get(tp))
    fact("faust_paused", lambda: tp in consumer._paused_partitions)
    fact("faust_flow_active", lambda: consumer.flow_active)
    fact("app_flow_active", lambda: app.flow_control.is_active())
    fact("unacked", lambda: len(consumer._unacked_messages))
    fact("has_callback", lambda: tp in app.topics._tp_to_callback)  # type: ignore[attr-defined]
    fact("fetcher_running", lambda: app._fetcher.state)

    def driver() -> Any:
        return consumer._thread._ensure_consumer()

    fact("aiokafka_position", lambda: _position(driver(), tp))
    fact("aiokafka_paused", lambda: tp in driver().paused())
    fact("aiokafka_buffered", lambda: tp in driver()._fetcher._records)
    fact("aiokafka_highwater", lambda: driver().highwater(tp))
    return ", ".join(facts)


def _position(driver: Any, tp: TP) -> object:
    assignment = driver._subscription.subscription.assignment
    return assignment.state_value(tp).position
