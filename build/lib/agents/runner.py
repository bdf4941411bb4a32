"""The one seam between Faust and the service's handlers.

Every Faust agent of the worker is made here from a plain handler: an async function that
takes a received message (and, bound beforehand, its collaborators) and returns what should
follow, in order: messages to send and table entries to write. The runner decodes nothing
and decides nothing; for each message it reports the offset to the stall guard, calls the
handler, sends a message the handler cannot use to the dead-letter topic with the reason,
and carries out what the handler returned, each send acknowledged by the broker before the
next step (an input offset is committed once its message is handled, so anything produced
must be acknowledged first). The topics the guard watches are those registered here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import faust
from faust.types import TP, TopicT

from observability.metrics import DEAD_LETTERS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Received:
    """One message as an agent took it from its partition."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Mapping[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class Send:
    """A message to produce; `partition` only where the handler must choose it."""

    topic: str
    key: str | bytes
    value: bytes
    partition: int | None = None
    headers: Mapping[str, bytes] | None = None


@dataclass(frozen=True)
class Put:
    """A table entry to write, in its turn among the sends (after the events it folds)."""

    table: MutableMapping[bytes, bytes]
    key: bytes
    value: bytes


Effect = Send | Put
Handler = Callable[[Received], Awaitable[Sequence[Effect]]]
# How a task reports its outcome: the runner's `carry_out`.
Report = Callable[[Sequence[Send]], Awaitable[None]]
# A long task's handler (agents/task_consumers.py): it reports its outcome itself.
TaskHandler = Callable[[Received], Coroutine[Any, Any, None]]


class Undecodable(Exception):
    """The message is not what its topic carries; it goes to the dead-letter topic as it is."""


@dataclass
class _Registration:
    name: str
    topics: tuple[str, ...]
    handler: Handler
    # When the handler now running began (monotonic), or None while the agent waits; what it
    # handles, and the task it runs in (to say where it waits if it takes long).
    busy_since: float | None = None
    busy_with: Received | None = None
    task: asyncio.Task[Any] | None = None


def _await_chain(coroutine: object) -> list[str]:
    """The frames a suspended coroutine waits through, outermost first (a task's own stack
    shows only its outermost frame)."""
    chain = []
    while coroutine is not None:
        frame = getattr(coroutine, "cr_frame", None) or getattr(coroutine, "gi_frame", None)
        if frame is not None:
            code = frame.f_code
            chain.append(
                f"{code.co_filename.rsplit('/', 2)[-1]}:{frame.f_lineno} in {code.co_name}"
            )
        coroutine = getattr(coroutine, "cr_await", None) or getattr(coroutine, "gi_yieldfrom", None)
    return chain


class SlowHandler(NamedTuple):
    agent: str
    message: Received
    seconds: float
    # Where the handler waits now, innermost last: "file:line in function".
    awaiting: list[str]


class AgentRunner:
    """Registers handlers as Faust agents and runs every message through the same steps."""

    def __init__(
        self,
        app: faust.App,
        topics: Mapping[str, TopicT],
        dead_letter_topic: str,
        on_handover: Callable[[TP, int], None],
    ) -> None:
        self._app = app
        self._topics = topics
        self._dead_letter_topic = dead_letter_topic
        self._on_handover = on_handover
        self._registrations: list[_Registration] = []

    def register(self, name: str, topics: Sequence[str], handler: Handler) -> None:
        """An agent named `name` that hands every message of `topics` to `handler`."""
        registration = _Registration(name, tuple(topics), handler)
        self._registrations.append(registration)
        channel = self._app.topic(*topics, key_type=bytes, value_type=bytes)

        async def agent(stream: faust.StreamT[bytes]) -> None:
            async for event in stream.events():
                message = event.message
                self._on_handover(message.tp, message.offset)
                received = Received(
                    topic=message.topic,
                    partition=message.partition,
                    offset=message.offset,
                    key=message.key,
                    value=message.value or b"",
                    headers=dict(message.headers or {}),
                )
                registration.busy_since = time.monotonic()
                registration.busy_with = received
                registration.task = asyncio.current_task()
                try:
                    await self._run(registration, received)
                finally:
                    registration.busy_since = registration.busy_with = None

        agent.__qualname__ = agent.__name__ = name  # what Faust's logs call the agent
        self._app.agent(channel, name=name)(agent)

    @property
    def watched_topics(self) -> set[str]:
        """Every topic some registered agent reads."""
        return {topic for r in self._registrations for topic in r.topics}

    def reader_busy_since(self, topic: str) -> float | None:
        """When the handler now running in the agent reading `topic` began, if one runs."""
        for registration in self._registrations:
            if topic in registration.topics:
                return registration.busy_since
        return None

    def longest_busy_since(self) -> float | None:
        """The start of the longest-running handler of any agent, if one runs."""
        running = [r.busy_since for r in self._registrations if r.busy_since is not None]
        return min(running, default=None)

    def slow_handlers(self, now: float, longer_than: float) -> list[SlowHandler]:
        """Handlers running for more than `longer_than` seconds, and where each waits."""
        slow = []
        for r in self._registrations:
            since, message, task = r.busy_since, r.busy_with, r.task
            if since is None or message is None or now - since <= longer_than:
                continue
            awaiting = _await_chain(task.get_coro()) if task is not None else []
            slow.append(SlowHandler(r.name, message, now - since, awaiting[-4:]))
        return slow

    async def _run(self, registration: _Registration, received: Received) -> None:
        try:
            effects = await registration.handler(received)
            await self.carry_out(effects)
        except Undecodable as exc:
            await self.dead_letter(received, str(exc), kind="undecodable")
        except Exception as exc:  # one bad message must not stop the agent
            log.exception(
                "%s: message on key %r could not be handled", registration.name, received.key
            )
            reason = f"internal error while handling the message: {exc!r}"
            await self.dead_letter(received, reason, kind="handler_error")

    async def carry_out(self, effects: Sequence[Effect]) -> None:
        """Each effect in order; a send is acknowledged before the next effect."""
        for effect in effects:
            if isinstance(effect, Put):
                effect.table[effect.key] = effect.value
                continue
            key = effect.key.encode() if isinstance(effect.key, str) else effect.key
            pending = await self._topics[effect.topic].send(
                key=key,
                value=effect.value,
                partition=effect.partition,
                headers=dict(effect.headers) if effect.headers else None,
            )
            await pending

    async def dead_letter(self, received: Received, reason: str, kind: str) -> None:
        """Keep the message whole on the dead-letter topic, with why and where from, and
        go on: one poison message never stops a partition."""
        log.warning("dead letter from %s (key %r): %s", received.topic, received.key, reason)
        DEAD_LETTERS.labels(received.topic, kind).inc()
        headers = {"reason": reason[:2000].encode(), "source-topic": received.topic.encode()}
        await self.carry_out(
            [Send(self._dead_letter_topic, received.key or b"", received.value, headers=headers)]
        )
