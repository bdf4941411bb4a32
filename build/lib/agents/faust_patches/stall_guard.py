"""Which partitions owe their agent a message, and when to read one again: pure bookkeeping.

Every agent here handles every message of its topics, in offset order, and tolerates one
handled twice, so the guard needs no knowledge of why Faust failed to hand a message over.
It knows, per partition, the next offset owed to the agent (the group's commit when the
partition was assigned, then one past each message handed over) and reads a partition
again from that offset when:

- a later message came first (Faust skipped some: a gap),
- Faust committed past the offset owed (it acknowledged messages never handed over), or
- the partition's high-water mark is beyond the offset owed and nothing was handed over
  for `stall_seconds` while the agent sat idle (a stall: messages wait and nothing comes).

A reread that does not bring the owed offset within another `stall_seconds` of idling is
tried again; after `max_rereads` tries the guard gives up, and the worker exits so that its
supervisor starts a fresh one. A busy agent is never stalled: its messages wait for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from faust.types import TP


class Reread(NamedTuple):
    tp: TP
    offset: int


class Stall(NamedTuple):
    """A partition the guard acted on: why, the offset owed and what it saw beyond it."""

    tp: TP
    reason: str
    owed: int
    highwater: int | None
    committed: int | None
    tries: int


class Healed(NamedTuple):
    tp: TP
    offset: int
    seconds: float


@dataclass
class Verdict:
    rereads: list[Reread]
    # Stalls seen for the first time (each is logged once and counted).
    detected: list[Stall]
    gave_up: list[Stall]


@dataclass
class _Partition:
    owed: int | None = None
    # Since when the partition has owed its idle agent a message with nothing handed over.
    waiting_since: float | None = None
    # A later offset came first: read again from here.
    skipped_from: int | None = None
    # The reread asked for and not yet seen arriving, how many times, and since when.
    reread_from: int | None = None
    tries: int = 0
    stalled_at: float | None = None
    # When the agent last took a message of the partition (or it was assigned).
    last_handover: float = 0.0


class StallGuard:
    def __init__(self, stall_seconds: float, max_rereads: int) -> None:
        self.stall_seconds = stall_seconds
        self.max_rereads = max_rereads
        self._partitions: dict[TP, _Partition] = {}
        self._healed: list[Healed] = []

    def assigned(self, tps: Iterable[TP], committed: Mapping[TP, int], now: float) -> None:
        """A rebalance gave us `tps`; those new to us start at their committed offset."""
        kept = set(tps)
        for tp in set(self._partitions) - kept:
            del self._partitions[tp]
        for tp in kept:
            partition = self._partitions.setdefault(tp, _Partition(last_handover=now))
            if partition.owed is None and tp in committed:
                partition.owed = committed[tp]
            # Faust seeks every partition to its commit at the end of a rebalance.
            partition.waiting_since = None

    def handed_over(self, tp: TP, offset: int, now: float) -> None:
        partition = self._partitions.setdefault(tp, _Partition(last_handover=now))
        owed = partition.owed
        if partition.reread_from is not None and offset == partition.reread_from:
            if partition.stalled_at is not None:
                self._healed.append(Healed(tp, offset, now - partition.stalled_at))
            partition.reread_from, partition.tries, partition.stalled_at = None, 0, None
        elif partition.reread_from is None and owed is not None and offset > owed:
            # Events fetched before a reread still come first; only a gap outside one counts,
            # and the first gap's start is kept.
            partition.skipped_from = min(owed, partition.skipped_from or owed)
        if owed is None or offset >= owed:
            partition.owed = offset + 1
        partition.waiting_since = None
        partition.last_handover = now

    def restart_clocks(self) -> None:
        """Forget how long partitions have waited: while the broker was unreachable, nothing
        could be handed over, and that is not a stall."""
        for partition in self._partitions.values():
            partition.waiting_since = None

    def healed(self) -> list[Healed]:
        """Stalls healed since the last call: the owed offset arrived after a reread."""
        healed, self._healed = self._healed, []
        return healed

    def check(
        self,
        now: float,
        highwater: Mapping[TP, int | None],
        committed: Mapping[TP, int | None],
        idle: Callable[[TP], bool],
    ) -> Verdict:
        """What to do now, given each partition's high-water mark and Faust's commit, and
        whether the agent reading it is waiting for a message."""
        verdict = Verdict([], [], [])
        for tp, partition in self._partitions.items():
            done, high = committed.get(tp), highwater.get(tp)
            if partition.owed is None:
                # No commit was known at the assignment: Faust's own, once it has one.
                partition.owed = done
            owed = partition.owed
            if owed is None:
                continue
            reason = self._reason(partition, owed, done, high)
            if reason is None:
                partition.waiting_since = None
                continue
            skipped = partition.skipped_from
            urgent = partition.tries == 0 and reason != "stalled"
            if not urgent:
                if not idle(tp) or partition.waiting_since is None:
                    partition.waiting_since = now  # the clock runs only while the agent idles
                    continue
                if now - partition.waiting_since < self.stall_seconds:
                    continue
            start = skipped if skipped is not None else owed
            stall = Stall(tp, reason, start, high, done, partition.tries)
            if partition.tries >= self.max_rereads:
                verdict.gave_up.append(stall)
                continue
            if partition.stalled_at is None:
                partition.stalled_at = now
                verdict.detected.append(stall)
            partition.skipped_from = None
            partition.reread_from = start
            partition.tries += 1
            partition.waiting_since = now
            verdict.rereads.append(Reread(tp, start))
        return verdict

    def seconds_since_handover(self, now: float) -> dict[TP, float]:
        """For each partition, how long ago its agent last took a message of it."""
        return {tp: now - p.last_handover for tp, p in self._partitions.items()}

    @staticmethod
    def _reason(partition: _Partition, owed: int, done: int | None, high: int | None) -> str | None:
        if partition.skipped_from is not None:
            return "skipped"
        if partition.reread_from is not None:
            return "reread pending"
        if done is not None and done > owed:
            return "committed past"
        if high is not None and high > owed:
            return "stalled"
        return None
