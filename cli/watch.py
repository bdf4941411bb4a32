"""Follow a job to its end on the API's progress stream, with a live bar: rows, percent,
rate and time left, as the server reports them."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
)
from rich.text import Text

from export_client.api_client import ApiError, ApiUnreachable, ExportApi

Job = dict[str, Any]
Files = list[dict[str, Any]]
# A stream cut off (the API restarting) is opened again this many times in a row.
RECONNECTS = 5
FINAL = {"COMPLETED", "FAILED", "CANCELLED", "EXPIRED"}
# A job just submitted reaches the read model a moment later (its command goes through
# Kafka); until then the API answers 404 for it.
APPEAR_SECONDS = 30.0


class StateColumn(SpinnerColumn):
    """A spinner while the job runs, then a mark for how it ended."""

    def render(self, task: Task) -> RenderableType:
        status = task.fields.get("status")
        if status == "COMPLETED":
            return Text("✓", style="green")
        if status in FINAL:
            return Text("✗", style="red")
        return super().render(task)


class RowsColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        done = f"{int(task.completed):,}"
        total = f"{int(task.total):,}" if task.total is not None else "?"
        return Text(f"{done}/{total} rows", style="progress.download")


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        rate = task.fields.get("rate")
        return Text(f"{rate:,.0f} rows/s" if rate else "- rows/s", style="progress.data.speed")


class EtaColumn(ProgressColumn):
    """Time left until the server's estimated completion, counted down between events; none
    once the job has ended, however it ended."""

    def render(self, task: Task) -> Text:
        eta: datetime | None = task.fields.get("eta")
        if eta is None or task.finished or task.fields.get("status") in FINAL:
            return Text("ETA -:--:--", style="progress.remaining")
        left = max(0, int((eta - datetime.now(UTC)).total_seconds()))
        return Text(f"ETA {left // 3600}:{left // 60 % 60:02}:{left % 60:02}", "progress.remaining")


class ElapsedColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        seconds = int((task.finished_time if task.finished else task.elapsed) or 0)
        clock = f"{seconds // 3600}:{seconds // 60 % 60:02}:{seconds % 60:02}"
        return Text(f"{clock} elapsed", style="progress.elapsed")


def new_progress(console: Console) -> Progress:
    """The bar's columns for the terminal's width: every one from 116 columns, then without
    the elapsed time, then without the ETA too, so that the line never wraps."""
    width = console.width
    # Spinner, status, percent, rows (up to 1,000,000/1,000,000), rate and the spaces.
    fixed = 1 + 10 + 4 + 24 + 14 + 5
    columns: list[ProgressColumn] = [StateColumn(), TextColumn("{task.fields[status]:<10}")]
    tail: list[ProgressColumn] = []
    if width >= 96:
        tail.append(EtaColumn())
        fixed += 12
    if width >= 116:
        tail.append(ElapsedColumn())
        fixed += 16
    bar = max(8, min(30, width - fixed - 1))
    columns += [
        BarColumn(bar_width=bar),
        TextColumn("{task.percentage:>3.0f}%"),
        RowsColumn(),
        RateColumn(),
        *tail,
    ]
    return Progress(*columns, console=console, transient=False)


class RateGauge:
    """Rows per second: the server's figure when it sends one, else measured here."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._first: tuple[float, int] | None = None

    def rate(self, job: Mapping[str, Any]) -> float | None:
        served = job.get("rowsPerSecond")
        if served is not None:
            return float(served)
        rows = int(job.get("processedRows") or 0)
        now = self._clock()
        if self._first is None or rows < self._first[1]:
            self._first = (now, rows)
            return None
        elapsed = now - self._first[0]
        return (rows - self._first[1]) / elapsed if elapsed > 0 and rows > self._first[1] else None


def eta_of(job: Mapping[str, Any], rate: float | None) -> datetime | None:
    served = job.get("estimatedCompletionAt")
    if served:
        try:
            return datetime.fromisoformat(str(served).replace("Z", "+00:00"))
        except ValueError:
            pass
    total, rows = job.get("totalRows"), int(job.get("processedRows") or 0)
    if rate and total:
        return datetime.fromtimestamp(time.time() + (int(total) - rows) / rate, UTC)
    return None


def follow(
    api: ExportApi, job_id: str, console: Console | None, appear_seconds: float = APPEAR_SECONDS
) -> Job:
    """The job's final state (the `done` event), drawing a bar on `console` when given."""
    progress = new_progress(console) if console is not None else None
    gauge = RateGauge()
    task: TaskID | None = None
    shown_rows = 0
    failures = 0
    started = time.monotonic()
    if progress is not None:
        progress.start()
        task = progress.add_task(job_id, total=None, status="PENDING", rate=None, eta=None)
    try:
        while True:
            try:
                for event, job in api.progress(job_id):
                    failures = 0
                    # Rows never go back, even across a reconnect.
                    shown_rows = max(shown_rows, int(job.get("processedRows") or 0))
                    if progress is not None:
                        task = _draw(progress, task, job, shown_rows, gauge)
                    if event == "done":
                        return job
            except ApiError as exc:
                if exc.status != 404 or time.monotonic() - started > appear_seconds:
                    raise
                time.sleep(0.25)
            except ApiUnreachable:
                failures += 1
                if failures > RECONNECTS:
                    raise
                if progress is not None and task is not None:
                    progress.update(task, status="reconnect")
                time.sleep(min(2**failures, 10))
    finally:
        if progress is not None:
            progress.stop()


def _draw(
    progress: Progress, task: TaskID | None, job: Mapping[str, Any], rows: int, gauge: RateGauge
) -> TaskID:
    status = str(job.get("status") or "?")
    total = job.get("totalRows")
    rate = gauge.rate(job)
    fields: dict[str, Any] = {"status": status, "rate": rate, "eta": eta_of(job, rate)}
    if task is None:
        task = progress.add_task(str(job.get("name") or job_id_of(job)), total=None, **fields)
    # Until the plan is made the total is unknown, and the bar pulses instead.
    completed = rows
    if status == "COMPLETED" and total is not None:
        completed = int(total)
    progress.update(
        task,
        total=int(total) if total is not None else None,
        completed=completed,
        **fields,
    )
    if status in FINAL:
        progress.stop_task(task)
    return task


def job_id_of(job: Mapping[str, Any]) -> str:
    return str(job.get("id") or "export")


def files_when_listed(api: ExportApi, job: Mapping[str, Any], wait_seconds: float = 15.0) -> Files:
    """A completed job's files. The stream can tell of the completion a moment before the read
    model that lists the files has it, which answers 404 NOT_READY meanwhile."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return list(api.files(job_id_of(job)).get("files") or [])
        except ApiError as exc:
            if exc.status != 404 or time.monotonic() > deadline:
                raise
            time.sleep(0.2)
