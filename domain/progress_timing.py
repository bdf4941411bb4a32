"""How fast a job goes and when it should end, from its own progress reports alone."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from export_contract.request import ExportStatus


class Timing(NamedTuple):
    rows_per_second: float | None
    estimated_completion_at: datetime | None


def timing(
    status: ExportStatus,
    started_at: datetime | None,
    progressed_at: datetime | None,
    completed_at: datetime | None,
    processed_rows: int,
    total_rows: int | None,
) -> Timing:
    """The average rate since the start, and for a running job the time its remaining rows
    take at that rate after the last report. Unknown until a first report with rows."""
    if started_at is None:
        return Timing(None, None)
    if status is ExportStatus.COMPLETED and completed_at is not None:
        seconds = (completed_at - started_at).total_seconds()
        return Timing(processed_rows / seconds if seconds > 0 else None, None)
    if status is not ExportStatus.PROCESSING or progressed_at is None or processed_rows <= 0:
        return Timing(None, None)
    seconds = (progressed_at - started_at).total_seconds()
    if seconds <= 0:
        return Timing(None, None)
    rate = processed_rows / seconds
    if total_rows is None:
        return Timing(rate, None)
    remaining = max(0, total_rows - processed_rows)
    return Timing(rate, progressed_at + timedelta(seconds=remaining / rate))
