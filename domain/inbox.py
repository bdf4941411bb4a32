"""Internal messages to the job agent (topic export.job-inbox, JSON, keyed by job id).

The job agent is the only writer of a job's events: everything that wants an event
recorded (the command agent's decision, the extractors' reports, cancellations) sends one
of these, and the job agent decides, numbers and appends.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from export_contract.models import ExportCompletionNotice, ExportFile, ScheduledRun
from export_contract.plan import ChunkPlan
from export_contract.request import ExportRequest, ExportStatus


class InboxMessage(BaseModel):
    model_config = ConfigDict(frozen=True)

    job_id: str
    message_id: str


class Acceptance(BaseModel):
    model_config = ConfigDict(frozen=True)

    total_rows: int
    high_water_mark: int
    max_rows_per_file: int
    chunks: list[ChunkPlan]
    output_location: str = ""
    max_export_bytes: int | None = None
    retention_days: int | None = None


class Rejection(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    reason: str
    field: str | None = None


class OpenJob(InboxMessage):
    kind: Literal["OpenJob"] = "OpenJob"
    tenant_id: str
    user_id: str
    command_id: str
    request: ExportRequest
    outcome: Acceptance | Rejection
    schedule: ScheduledRun | None = None


class ChunkStarted(InboxMessage):
    kind: Literal["ChunkStarted"] = "ChunkStarted"
    chunk_index: int


class ChunkProgress(InboxMessage):
    kind: Literal["ChunkProgress"] = "ChunkProgress"
    chunk_index: int
    rows: int


class ChunkDone(InboxMessage):
    kind: Literal["ChunkDone"] = "ChunkDone"
    chunk_index: int
    files: list[ExportFile]


class ChunkFailed(InboxMessage):
    kind: Literal["ChunkFailed"] = "ChunkFailed"
    chunk_index: int
    code: str
    reason: str


class CancelRequested(InboxMessage):
    kind: Literal["CancelRequested"] = "CancelRequested"
    tenant_id: str
    user_id: str
    reason: str
    roles: list[str] = []


class ExpireJob(InboxMessage):
    """From the retention sweep: expire the job if its time is up as of `as_of`."""

    kind: Literal["ExpireJob"] = "ExpireJob"
    as_of: datetime


class DeliveryAttempted(InboxMessage):
    """One delivery attempt's outcome, from the delivery agent."""

    kind: Literal["DeliveryAttempted"] = "DeliveryAttempted"
    attempt: int
    method: str
    delivered: bool
    destination: str
    reason: str | None = None
    permanent: bool = False


AnyInboxMessage = Annotated[
    OpenJob
    | ChunkStarted
    | ChunkProgress
    | ChunkDone
    | ChunkFailed
    | CancelRequested
    | ExpireJob
    | DeliveryAttempted,
    Field(discriminator="kind"),
]
INBOX = TypeAdapter(AnyInboxMessage)


def encode_inbox(message: InboxMessage) -> bytes:
    return message.model_dump_json().encode()


def decode_inbox(data: bytes) -> InboxMessage:
    message: InboxMessage = INBOX.validate_json(data)
    return message


class ExtractChunk(BaseModel):
    """A unit of work on export.tasks (JSON, keyed by job id and chunk): extract one chunk."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    tenant_id: str
    user_id: str
    request: ExportRequest
    chunk: ChunkPlan
    # How many chunks the export has; tasks from before it was sent count as an export's only
    # chunk, which may take every stream the bounds allow.
    chunk_count: int = 1
    high_water_mark: int
    # An incremental schedule's run: only keys above this.
    key_above: int | None = None
    # Empty in tasks from before stores were configurable: the local store.
    output_location: str = ""
    max_export_bytes: int | None = None


class QuotaSettlement(BaseModel):
    """On export.quota-inbox (JSON, keyed tenant:user): a job ended; free what it held."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str
    user_id: str
    job_id: str
    # The rows a completed export counts; None releases the whole reservation.
    completed_rows: int | None = None
    occurred_at: datetime


class StopJob(BaseModel):
    """On export.stops (JSON, keyed by job id): the job ended; extractors stop its chunks."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    status: ExportStatus
    reason: str


class DeliverExport(BaseModel):
    """A delivery attempt on export.deliveries (JSON, keyed by job id): everything the
    delivery agent needs, so it keeps no state of its own."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    tenant_id: str
    user_id: str
    request: ExportRequest
    attempt: int
    not_before: datetime
    outcome: ExportStatus
    files: list[ExportFile]
    output_location: str
    download_url: str | None = None
    expires_at: datetime | None = None
    error_message: str | None = None
    # The public completion notice as it stands when the job ends: what a webhook POSTs.
    notice: ExportCompletionNotice | None = None
