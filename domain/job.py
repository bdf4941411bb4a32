"""A job's state as a pure fold of its events: `apply(state, event) -> state`.

Nothing here touches Kafka, a database or a clock; the jobs table, the read model and the
tests all go through this function.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from domain import delivery
from export_contract import models as ev
from export_contract.plan import ChunkPlan
from export_contract.request import ExportRequest, ExportStatus


class JobState(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    job_id: str
    tenant_id: str
    user_id: str
    command_id: str
    sequence: int
    status: ExportStatus
    request: ExportRequest
    requested_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    total_rows: int | None = None
    high_water_mark: int | None = None
    max_rows_per_file: int | None = None
    chunks: list[ChunkPlan] = Field(default_factory=list)
    chunk_rows: dict[int, int] = Field(default_factory=dict)
    # When rows were last reported (progress or a recorded chunk): with started_at, the rate.
    progressed_at: datetime | None = None
    # Every recorded file in export order, and how many files each recorded chunk made.
    files: list[ev.ExportFile] = Field(default_factory=list)
    chunk_files: dict[int, int] = Field(default_factory=dict)
    total_bytes: int | None = None
    output_path: str | None = None
    download_url: str | None = None
    expires_at: datetime | None = None
    error_code: str | None = None
    error_message: str | None = None
    # Where the files are kept: a local folder or an s3:// prefix (see stores.export_store).
    output_location: str = ""
    max_export_bytes: int | None = None
    retention_days: int | None = None
    # Delivery after the job ended (S3, SFTP, EMAIL): PENDING, DELIVERED or FAILED.
    delivery_status: str | None = None
    delivery_attempts: int = 0
    delivery_error: str | None = None
    delivered_to: str | None = None
    delivered_at: datetime | None = None
    # A run of a schedule: its end is reported to the schedule agent.
    schedule: ev.ScheduledRun | None = None

    @property
    def key_above(self) -> int | None:
        """An incremental run's lower key bound (exclusive); None for every other export."""
        run = self.schedule
        return run.key_after if run is not None and run.incremental else None

    @property
    def processed_rows(self) -> int:
        return sum(self.chunk_rows.values())

    @property
    def progress_percent(self) -> Decimal:
        if self.status is ExportStatus.COMPLETED:
            return Decimal(100)
        if not self.total_rows:
            return Decimal(0)
        # Never 100 before completion: the last chunk is not safe until it is recorded.
        share = Decimal(self.processed_rows * 100) / Decimal(self.total_rows)
        return min(share, Decimal("99.99")).quantize(Decimal("0.01"), rounding=ROUND_DOWN)

    @property
    def is_terminal(self) -> bool:
        return self.status in ev.TERMINAL_STATUSES


class FoldError(Exception):
    """An event cannot follow the state it was applied to (a bug, or a corrupt log)."""


def apply(state: JobState | None, event: ev.JobEvent) -> JobState:
    """The state after `event`. Events at or below the state's sequence are not applied here:
    callers skip them (see `is_duplicate`)."""
    envelope = event.envelope
    if isinstance(event, ev.ExportRequested):
        if state is not None:
            raise FoldError(f"job {envelope.job_id} was already requested")
        return JobState(
            job_id=envelope.job_id,
            tenant_id=envelope.tenant_id,
            user_id=envelope.user_id,
            command_id=event.command_id,
            sequence=envelope.sequence,
            status=ExportStatus.PENDING,
            request=event.request,
            requested_at=envelope.occurred_at,
            schedule=event.schedule,
        )
    if state is None:
        raise FoldError(f"{type(event).__name__} before ExportRequested for job {envelope.job_id}")
    changes: dict[str, object] = {"sequence": envelope.sequence}
    match event:
        case ev.ExportAccepted():
            changes.update(
                status=ExportStatus.QUEUED,
                total_rows=event.total_rows,
                high_water_mark=event.high_water_mark,
                max_rows_per_file=event.max_rows_per_file,
                chunks=event.chunks,
                output_location=event.output_location,
                max_export_bytes=event.max_export_bytes,
                retention_days=event.retention_days,
            )
        case ev.ExportRejected():
            changes.update(
                status=ExportStatus.FAILED,
                completed_at=envelope.occurred_at,
                error_code=event.code,
                error_message=event.reason,
            )
        case ev.ExportStarted():
            changes.update(status=ExportStatus.PROCESSING, started_at=envelope.occurred_at)
        case ev.ExportProgressed():
            changes["chunk_rows"] = {**state.chunk_rows, event.chunk_index: event.chunk_rows}
            changes["progressed_at"] = envelope.occurred_at
        case ev.ChunkExtracted():
            chunk = event.file.chunk_index
            files = sorted(
                [*(f for f in state.files if f.name != event.file.name), event.file],
                key=lambda f: (f.chunk_index, f.part),
            )
            changes["files"] = files
            changes["chunk_files"] = {**state.chunk_files, chunk: event.chunk_files}
            changes["progressed_at"] = envelope.occurred_at
            changes["chunk_rows"] = {
                **state.chunk_rows,
                chunk: sum(f.rows for f in files if f.chunk_index == chunk),
            }
        case ev.ExportCompleted():
            changes.update(
                status=ExportStatus.COMPLETED,
                completed_at=envelope.occurred_at,
                total_rows=event.total_rows,
                total_bytes=event.total_bytes,
                output_path=event.output_path,
                download_url=event.download_url,
                expires_at=event.expires_at,
            )
        case ev.ExportFailed():
            changes.update(
                status=ExportStatus.FAILED,
                completed_at=envelope.occurred_at,
                error_code=event.code,
                error_message=event.reason,
            )
        case ev.ExportCancelled():
            changes.update(
                status=ExportStatus.CANCELLED,
                completed_at=envelope.occurred_at,
                error_message=event.reason,
            )
        case ev.ExportExpired():
            changes.update(status=ExportStatus.EXPIRED, download_url=None)
        case ev.ExportDelivered():
            changes.update(
                delivery_status=delivery.DELIVERED,
                delivery_attempts=event.attempt,
                delivery_error=None,
                delivered_to=event.destination,
                delivered_at=envelope.occurred_at,
            )
        case ev.DeliveryFailed():
            changes.update(
                delivery_status=delivery.PENDING if event.next_attempt_at else delivery.FAILED,
                delivery_attempts=event.attempt,
                delivery_error=f"attempt {event.attempt}: {event.reason}",
            )
        case _:
            raise FoldError(f"unknown event {type(event).__name__}")
    new_state = state.model_copy(update=changes)
    ends = isinstance(event, ev.ExportCompleted | ev.ExportFailed | ev.ExportCancelled)
    if ends and delivery.delivery_due(state.request, new_state.status):
        new_state = new_state.model_copy(update={"delivery_status": delivery.PENDING})
    return new_state


def is_duplicate(state: JobState | None, event: ev.JobEvent) -> bool:
    """True for an event this state already contains (Kafka delivers at least once)."""
    return state is not None and event.envelope.sequence <= state.sequence


def fold(events: list[ev.JobEvent]) -> JobState | None:
    """Rebuild a job from its whole log, skipping duplicates."""
    state: JobState | None = None
    for event in events:
        if not is_duplicate(state, event):
            state = apply(state, event)
    return state
