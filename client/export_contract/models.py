"""Commands (requests) and job events (facts), as typed immutable models.

Field names match the Avro schemas in `schemas/` one to one (camelCase on the wire).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from export_contract.plan import ChunkPlan
from export_contract.request import ExportRequest, ExportStatus
from export_contract.schedule import RunStatus, ScheduleSpec


class Message(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, use_enum_values=False
    )


# Commands: what clients ask for, on export.commands keyed by tenant:user.


class CommandHeader(Message):
    """What every command carries: its id (chosen by the client), who sends it with which
    roles, and when."""

    command_id: str
    tenant_id: str
    user_id: str
    roles: list[str]
    issued_at: datetime


class ScheduledRun(Message):
    """Carried by a RequestExport a schedule sent: which run of which schedule it is, and,
    for an incremental schedule, the key its rows must lie above (none: from the first)."""

    schedule_id: str
    run_number: int
    slot: datetime
    incremental: bool = False
    key_after: int | None = None
    # With ifEmpty SKIP a run that finds no rows is refused with NOTHING_NEW, not delivered.
    skip_if_empty: bool = False


class RequestExport(CommandHeader):
    request: ExportRequest
    schedule: ScheduledRun | None = None


class CancelExport(CommandHeader):
    job_id: str
    reason: str | None = None


class CreateSchedule(CommandHeader):
    schedule: ScheduleSpec


class UpdateSchedule(CommandHeader):
    """Replaces the schedule's whole description (the API merges a PATCH into it first)."""

    schedule_id: str
    schedule: ScheduleSpec


class PauseSchedule(CommandHeader):
    schedule_id: str


class ResumeSchedule(CommandHeader):
    schedule_id: str


class DeleteSchedule(CommandHeader):
    schedule_id: str


ScheduleCommand = CreateSchedule | UpdateSchedule | PauseSchedule | ResumeSchedule | DeleteSchedule
Command = RequestExport | CancelExport | ScheduleCommand


# Events: what happened to a job, on export.events keyed by job id.


class Envelope(Message):
    event_id: str
    job_id: str
    tenant_id: str
    user_id: str
    sequence: int
    occurred_at: datetime
    causation_id: str


class Event(Message):
    envelope: Envelope


class ExportRequested(Event):
    command_id: str
    request: ExportRequest
    # Set for a run of a schedule: which run, and the keys an incremental one lies above.
    schedule: ScheduledRun | None = None


class ExportAccepted(Event):
    total_rows: int
    high_water_mark: int
    max_rows_per_file: int
    chunks: list[ChunkPlan]
    # Empty in events from before stores were configurable: those files are in the local store.
    output_location: str = ""
    # The tenant's limits when the job was accepted (None: no limit, the service default).
    max_export_bytes: int | None = None
    retention_days: int | None = None


class ExportRejected(Event):
    code: str
    reason: str
    field: str | None = None


class ExportStarted(Event):
    pass


class ExportProgressed(Event):
    chunk_index: int
    chunk_rows: int
    processed_rows: int


class ExportFile(Message):
    chunk_index: int
    part: int = 1
    name: str
    path: str
    rows: int
    bytes: int
    sha256: str
    notes: list[str] = []


class ChunkExtracted(Event):
    file: ExportFile
    compression: str = "NONE"
    # How many files this chunk made: more than one when maxFileBytes closed a file early.
    chunk_files: int = 1


class ExportCompleted(Event):
    total_rows: int
    total_bytes: int
    files: list[ExportFile]
    output_path: str
    download_url: str
    expires_at: datetime


class ExportFailed(Event):
    code: str
    reason: str


class ExportCancelled(Event):
    reason: str


class ExportExpired(Event):
    reason: str


class ExportDelivered(Event):
    method: str
    attempt: int
    destination: str


class DeliveryFailed(Event):
    method: str
    attempt: int
    reason: str
    permanent: bool
    next_attempt_at: datetime | None = None


JobEvent = (
    ExportRequested
    | ExportAccepted
    | ExportRejected
    | ExportStarted
    | ExportProgressed
    | ChunkExtracted
    | ExportCompleted
    | ExportFailed
    | ExportCancelled
    | ExportExpired
    | ExportDelivered
    | DeliveryFailed
)

# Schedule events: what happened to a schedule, on export.schedules keyed by schedule id.


class ScheduleEnvelope(Message):
    event_id: str
    schedule_id: str
    tenant_id: str
    user_id: str
    sequence: int
    occurred_at: datetime
    causation_id: str


class ScheduleEvent(Message):
    envelope: ScheduleEnvelope


class ScheduleCreated(ScheduleEvent):
    command_id: str
    schedule: ScheduleSpec


class ScheduleRejected(ScheduleEvent):
    """A CreateSchedule refused: the schedule's only event."""

    command_id: str
    code: str
    reason: str
    field: str | None = None


class ScheduleUpdated(ScheduleEvent):
    schedule: ScheduleSpec


class ScheduleCommandRefused(ScheduleEvent):
    """An update, pause, resume or delete that could not apply (recorded, state unchanged)."""

    command_id: str
    code: str
    reason: str
    field: str | None = None


class SchedulePaused(ScheduleEvent):
    pass


class ScheduleResumed(ScheduleEvent):
    pass


class ScheduleDeleted(ScheduleEvent):
    pass


class ScheduleRunStarted(ScheduleEvent):
    slot: datetime
    run_number: int
    job_id: str
    key_after: int | None = None


class ScheduleRunSkipped(ScheduleEvent):
    """Slots that start no job: missed while no worker ran (catchUp), or while the
    schedule's previous incremental run was still going. One event covers `slots`
    consecutive slots, from `slot` to `last_slot`."""

    slot: datetime
    reason: str
    last_slot: datetime | None = None
    slots: int = 1


class ScheduleRunFinished(ScheduleEvent):
    run_number: int
    slot: datetime
    job_id: str
    status: RunStatus
    rows: int
    # The keys the run covered, (keyAfter, keyThrough]; none for a run that is not incremental.
    key_after: int | None = None
    key_through: int | None = None
    reason: str | None = None


ScheduleLogEvent = (
    ScheduleCreated
    | ScheduleRejected
    | ScheduleUpdated
    | ScheduleCommandRefused
    | SchedulePaused
    | ScheduleResumed
    | ScheduleDeleted
    | ScheduleRunStarted
    | ScheduleRunSkipped
    | ScheduleRunFinished
)

TERMINAL_STATUSES = {
    ExportStatus.COMPLETED,
    ExportStatus.FAILED,
    ExportStatus.CANCELLED,
    ExportStatus.EXPIRED,
}


# The public completion notice, on export.completions keyed by job id.


class CompletionFile(Message):
    name: str
    rows: int
    bytes: int
    sha256: str


class ExportCompletionNotice(Message):
    job_id: str
    command_id: str
    tenant_id: str
    user_id: str
    status: ExportStatus
    occurred_at: datetime
    total_rows: int
    files: list[CompletionFile]
    download_url: str | None = None
    expires_at: datetime | None = None
    error_code: str | None = None
    error_message: str | None = None
    delivery_method: str = "DOWNLOAD"
    delivery_status: str | None = None
    delivery_error: str | None = None
