"""How often extractors report progress, and the reporter that keeps to it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ProgressPolicy:
    every_rows: int = 100_000
    every_seconds: float = 2.0


class ProgressReporter:
    """Calls `on_progress` with the rows done so far once `every_rows` more rows are done or
    `every_seconds` have passed, whichever comes first; never above `cap` (the planned rows)."""

    def __init__(
        self, on_progress: Callable[[int], None], policy: ProgressPolicy, cap: int
    ) -> None:
        self._on_progress = on_progress
        self._policy = policy
        self._cap = cap
        self._reported = 0
        self._last = time.monotonic()

    def update(self, rows: int) -> None:
        now = time.monotonic()
        if (
            rows - self._reported >= self._policy.every_rows
            or now - self._last >= self._policy.every_seconds
        ):
            self._on_progress(min(rows, self._cap))
            self._reported, self._last = rows, now
