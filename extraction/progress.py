"""How often extractors report progress, when they must stop, and the reporter that keeps to
both."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

# Given the bytes stored so far, a reason to stop now (the job was cancelled, or the export
# passed its size limit), or None to go on. Asked at every update, so it must be cheap.
StopCheck = Callable[[int], str | None]


class ExtractionStopped(Exception):
    """The chunk stopped before its end, for the reason given; its files are removed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ProgressPolicy:
    every_rows: int = 100_000
    every_seconds: float = 2.0
    stop_check: StopCheck | None = None


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

    def update(self, rows: int, stored_bytes: int = 0) -> None:
        """Rows done so far, and the bytes this chunk has stored so far where known."""
        if self._policy.stop_check is not None:
            reason = self._policy.stop_check(stored_bytes)
            if reason is not None:
                raise ExtractionStopped(reason)
        now = time.monotonic()
        if (
            rows - self._reported >= self._policy.every_rows
            or now - self._last >= self._policy.every_seconds
        ):
            self._on_progress(min(rows, self._cap))
            self._reported, self._last = rows, now


class StreamAborted(Exception):
    """Another stream of the same chunk failed; this one stops so the chunk can end."""


class SharedProgress:
    """One chunk's progress when several streams read it: each stream tells its own rows and
    stored bytes, the reporter sees their sums. Thread safe; `abort` stops every stream at
    its next update."""

    def __init__(self, reporter: ProgressReporter) -> None:
        self._reporter = reporter
        self._lock = threading.Lock()
        self._rows: dict[int, int] = {}
        self._bytes: dict[int, int] = {}
        self._aborted = threading.Event()

    def stream(self, number: int) -> StreamProgress:
        return StreamProgress(self, number)

    def abort(self) -> None:
        self._aborted.set()

    def raise_if_aborted(self) -> None:
        """For a stream about to start: the chunk has already failed."""
        if self._aborted.is_set():
            raise StreamAborted()

    def _update(self, number: int, rows: int, stored_bytes: int) -> None:
        self.raise_if_aborted()
        with self._lock:
            self._rows[number] = rows
            self._bytes[number] = stored_bytes
            self._reporter.update(sum(self._rows.values()), sum(self._bytes.values()))


@dataclass(frozen=True)
class StreamProgress:
    """What one stream's copy loop reports through: the same call as a ProgressReporter."""

    shared: SharedProgress
    number: int

    def update(self, rows: int, stored_bytes: int = 0) -> None:
        self.shared._update(self.number, rows, stored_bytes)
