"""A worker that stays unready, a broker outage aside, is replaced rather than left standing.

The stall watch heals partitions once Faust is settled, but it runs as a Faust timer, and
Faust starts its timers only after the first table recovery: a worker stuck joining its
group or recovering its tables would answer its probes as unready for ever and handle no
command. This watchdog runs from the start, beside the health server: it logs what holds a
worker back once that has lasted a while, and past a longer bound makes the worker exit, so
that its supervisor (or the platform) starts a fresh one. A broker that answered and then
fell silent is waited out instead: a new process would meet the same silence. A broker that
never answered is not: the silence may be this process's own (a bad address, a stuck client).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import mode

from observability.health import OK, Check

log = logging.getLogger(__name__)

CHECK_SECONDS = 2.0


class Verdict(Enum):
    READY = "ready"
    WAIT = "wait"
    WARN = "warn"
    RECOVERED = "recovered"
    GIVE_UP = "give up"


@dataclass
class UnreadyClock:
    """How long a worker has been unready, and what that calls for (pure bookkeeping)."""

    warn_after: float
    give_up_after: float
    unready_since: float | None = None
    warned: bool = False

    def observe(self, check: Check, broker_silent: bool, now: float) -> Verdict:
        if check.ok:
            recovered = self.warned
            self.unready_since, self.warned = None, False
            return Verdict.RECOVERED if recovered else Verdict.READY
        if broker_silent:
            self.unready_since, self.warned = None, False  # an outage: wait it out
            return Verdict.WAIT
        if self.unready_since is None:
            self.unready_since = now
        unready = now - self.unready_since
        if unready >= self.give_up_after:
            return Verdict.GIVE_UP
        if unready >= self.warn_after and not self.warned:
            self.warned = True
            return Verdict.WARN
        return Verdict.WAIT

    def seconds(self, now: float) -> float:
        return 0.0 if self.unready_since is None else now - self.unready_since


class ReadinessWatchdog(mode.Service):
    """Reads the worker's readiness every few seconds and acts on what the clock says."""

    def __init__(
        self,
        ready: Callable[[], Check],
        broker_silent: Callable[[], bool],
        clock: UnreadyClock,
        on_give_up: Callable[[str, float], None],
        **kwargs: Any,
    ) -> None:
        self._ready = ready
        self._broker_silent = broker_silent
        self._clock = clock
        self._on_give_up = on_give_up
        super().__init__(**kwargs)

    @mode.Service.task
    async def _watch(self) -> None:
        while not self.should_stop:
            await self.sleep(CHECK_SECONDS)
            self.look(self._ready(), self._broker_silent(), time.monotonic())

    def look(self, check: Check, broker_silent: bool, now: float) -> Verdict:
        unready = self._clock.seconds(now)
        verdict = self._clock.observe(check, broker_silent, now)
        # What holds the worker back, as its /readyz names it.
        waiting_on = "; ".join(f"{k}: {v}" for k, v in check.checks.items() if v != OK)
        if verdict is Verdict.WARN:
            log.warning(
                "not ready for %.0f s (%s); the worker exits if this lasts %.0f s",
                self._clock.seconds(now),
                waiting_on,
                self._clock.give_up_after,
            )
        elif verdict is Verdict.RECOVERED:
            log.warning("ready again after %.0f s", unready)
        elif verdict is Verdict.GIVE_UP:
            self._on_give_up(waiting_on, self._clock.seconds(now))
        return verdict
