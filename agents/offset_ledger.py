"""Which offset each partition should hand an agent next, and when to read one again.

Pure bookkeeping for agents/skipped_messages.py: agents report the offsets they take; the
ledger says which partitions to read again, and from where.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from faust.types import TP

log = logging.getLogger(__name__)

# Tries to read a partition again from the same offset before taking the offsets as absent
# from the topic (they are not, with these producers, but a guard must not loop for ever).
MAX_REREADS = 3


class Reread(NamedTuple):
    tp: TP
    offset: int


class OffsetLedger:
    """Per partition, the next offset an agent should handle; pure bookkeeping."""

    def __init__(self) -> None:
        self._expected: dict[TP, int] = {}
        self._missing_from: dict[TP, int] = {}
        # Rereads asked for and not yet seen arriving: start offset and how many times asked.
        self._pending: dict[TP, tuple[int, int]] = {}

    def assigned(self, tps: Iterable[TP], committed: Mapping[TP, int]) -> None:
        """A rebalance gave us `tps`; those new to us start at their committed offset."""
        kept = set(tps)
        for tp in set(self._expected) - kept:
            self._expected.pop(tp, None)
            self._missing_from.pop(tp, None)
            self._pending.pop(tp, None)
        for tp in kept:
            if tp not in self._expected and tp in committed:
                self._expected[tp] = committed[tp]

    def handled(self, tp: TP, offset: int) -> None:
        expected = self._expected.get(tp)
        pending = self._pending.get(tp)
        if pending is not None and offset == pending[0]:
            del self._pending[tp]  # the reread arrived
        elif pending is None and expected is not None and offset > expected:
            # Events fetched before a reread still come first; only a gap outside one counts.
            self._missing_from.setdefault(tp, expected)
        if expected is None or offset >= expected:
            self._expected[tp] = offset + 1

    def rereads(self, committed: Mapping[TP, int | None]) -> list[Reread]:
        """Partitions to read again, and from where: messages were skipped (a later one came
        first), Faust committed past the next one expected, or a reread has not arrived."""
        due = []
        for tp, expected in self._expected.items():
            done = committed.get(tp)
            start = self._missing_from.pop(tp, None)
            if start is None and tp in self._pending:
                start = self._pending[tp][0]
            if start is None and done is not None and done > expected:
                start = expected
            if start is None:
                continue
            previous, asked = self._pending.get(tp, (start, 0))
            asked = asked + 1 if previous == start else 1
            if asked > MAX_REREADS:
                # A busy agent may still get them; only the bookkeeping lets go.
                log.error("%s: offset %d not seen after %d rereads", tp, start, MAX_REREADS)
                self._pending.pop(tp, None)
                self._expected[tp] = max(expected, done or 0)
                continue
            self._pending[tp] = (start, asked)
            due.append(Reread(tp, start))
        return due
