"""A recurring export as clients describe it: the body of `POST /v1/schedules` and of the
`CreateSchedule` and `UpdateSchedule` commands.

Like the export request, these models check shapes and types only; whether the cron
expression, the zone and the export request inside make sense is checked by the service, so
that a well-formed command is always answered with the field and the reason.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from export_contract.request import ExportRequest, Model


class IfEmpty(str, Enum):
    """What a run with no rows to export does: record a skip, or deliver a file with only
    its header."""

    SKIP = "SKIP"
    DELIVER = "DELIVER"


class CatchUp(str, Enum):
    """What happens to slots missed while no worker was running: one run for all of them
    (the latest slot's), a run for each, or none (each is recorded as skipped)."""

    ONE = "ONE"
    ALL = "ALL"
    NONE = "NONE"


class ScheduleStatus(str, Enum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    # Past its endAt: no slot is left to run.
    ENDED = "ENDED"
    DELETED = "DELETED"


class RunStatus(str, Enum):
    """A run, as the schedule's runs list shows it."""

    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"


class ScheduleSpec(Model):
    name: str
    description: str | None = None
    # Five fields (minute hour day-of-month month day-of-week), read in `timezone`.
    cron: str
    # An IANA zone name, e.g. Europe/Zurich: local times, daylight saving included.
    timezone: str = "UTC"
    export_request: ExportRequest
    # Each run exports only the rows whose key is above the last successful run's mark.
    incremental: bool = False
    if_empty: IfEmpty = IfEmpty.DELIVER
    catch_up: CatchUp = CatchUp.ONE
    start_at: datetime | None = None
    end_at: datetime | None = None
