"""Internal messages to the schedule agent (topic export.schedule-inbox, JSON, keyed by
schedule id): the command agent's checked commands, the ticks that say slots may be due,
and the ends of the runs' jobs. The schedule agent alone writes a schedule's events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from domain.inbox import Rejection
from export_contract.schedule import RunStatus, ScheduleSpec

# A run with ifEmpty SKIP that found no rows is refused with this code: a skipped run.
NOTHING_NEW = "NOTHING_NEW"


class ScheduleMessage(BaseModel):
    model_config = ConfigDict(frozen=True)

    schedule_id: str
    message_id: str


class OpenSchedule(ScheduleMessage):
    kind: Literal["OpenSchedule"] = "OpenSchedule"
    tenant_id: str
    user_id: str
    command_id: str
    spec: ScheduleSpec
    # Set when the command agent refused it: the schedule records only its rejection.
    rejection: Rejection | None = None


class ChangeSchedule(ScheduleMessage):
    kind: Literal["ChangeSchedule"] = "ChangeSchedule"
    tenant_id: str
    user_id: str
    roles: list[str]
    change: Literal["UPDATE", "PAUSE", "RESUME", "DELETE"]
    spec: ScheduleSpec | None = None
    rejection: Rejection | None = None


class SlotsDue(ScheduleMessage):
    """Decide the slots up to `as_of` (the tick's clock, which tests move)."""

    kind: Literal["SlotsDue"] = "SlotsDue"
    as_of: datetime


class RunEnded(ScheduleMessage):
    """A run's job ended (from the job agent's reactions)."""

    kind: Literal["RunEnded"] = "RunEnded"
    job_id: str
    status: RunStatus
    rows: int
    # The job's high-water mark: the highest key an incremental run covered.
    key_through: int | None = None
    reason: str | None = None


AnyScheduleMessage = Annotated[
    OpenSchedule | ChangeSchedule | SlotsDue | RunEnded, Field(discriminator="kind")
]
SCHEDULE_INBOX = TypeAdapter(AnyScheduleMessage)


def encode_schedule_message(message: ScheduleMessage) -> bytes:
    return message.model_dump_json().encode()


def decode_schedule_message(data: bytes) -> ScheduleMessage:
    message: ScheduleMessage = SCHEDULE_INBOX.validate_json(data)
    return message
