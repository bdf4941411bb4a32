"""Per-user quotas, pure: check a request and reserve its rows in one step, settle at the end.

One user's usage lives in one place (the quotas table, keyed tenant:user, owned by the
partition that also receives the user's commands), so a check and its reservation can never
race with another request of the same user. Messages are the seed's.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class Limits(BaseModel):
    """The limits in effect for one user; defaults as in the seed."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    max_rows_per_export: int = 10_000_000
    max_rows_per_day: int = 50_000_000
    max_concurrent_exports: int = 3
    max_exports_per_day: int = 20
    # Schedules (active or paused) one user may have.
    max_schedules: int = 20
    # Bytes one export may store (all its files); None: no limit.
    max_export_bytes: int | None = None
    retention_days: int = 7
    # The tenant's day for daily limits; UTC unless configured.
    timezone: str = "UTC"


class LimitsOverride(BaseModel):
    """A change of some limits for a tenant or one of its users; absent fields are inherited."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid"
    )

    max_rows_per_export: int | None = Field(default=None, ge=0)
    max_rows_per_day: int | None = Field(default=None, ge=0)
    max_concurrent_exports: int | None = Field(default=None, ge=0)
    max_exports_per_day: int | None = Field(default=None, ge=0)
    max_schedules: int | None = Field(default=None, ge=0)
    max_export_bytes: int | None = Field(default=None, ge=1)
    retention_days: int | None = Field(default=None, ge=1, le=3650)
    timezone: str | None = None


def effective_limits(
    defaults: Limits, tenant: LimitsOverride | None, user: LimitsOverride | None
) -> Limits:
    """Defaults, then the tenant's overrides, then the user's."""
    changes: dict[str, object] = {}
    for override in (tenant, user):
        if override is not None:
            changes.update(override.model_dump(exclude_none=True))
    return defaults.model_copy(update=changes)


def local_day(now: datetime, timezone: str) -> date:
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return now.astimezone(zone).date()


class Reservation(BaseModel):
    model_config = ConfigDict(frozen=True)

    rows: int
    day: date


class QuotaUsage(BaseModel):
    """One user's counters for one day, and the exports holding a slot."""

    model_config = ConfigDict(frozen=True)

    day: date
    rows: int = 0  # settled rows of finished exports plus reserved rows of running ones
    exports: int = 0  # exports accepted this day
    active: dict[str, Reservation] = Field(default_factory=dict)
    # Bumped on every change, so a projection can drop an older copy arriving late.
    version: int = 0

    def on(self, day: date) -> QuotaUsage:
        """The usage as seen on `day`: a new day starts its counters at zero."""
        if day == self.day:
            return self
        return QuotaUsage(day=day, active=self.active, version=self.version)


class QuotaExceeded(Exception):
    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit
        self.message = message


def problems(
    usage: QuotaUsage | None, limits: Limits, rows: int, today: date
) -> list[QuotaExceeded]:
    """Every limit that an export of `rows` started now would break, in the order checked."""
    current = (usage or QuotaUsage(day=today)).on(today)
    found: list[QuotaExceeded] = []
    if len(current.active) >= limits.max_concurrent_exports:
        found.append(
            QuotaExceeded(
                "maxConcurrentExports",
                f"Maximum concurrent exports reached ({limits.max_concurrent_exports})",
            )
        )
    if current.exports >= limits.max_exports_per_day:
        found.append(
            QuotaExceeded(
                "maxExportsPerDay", f"Daily export limit reached ({limits.max_exports_per_day})"
            )
        )
    if current.rows >= limits.max_rows_per_day:
        found.append(
            QuotaExceeded(
                "maxRowsPerDay", f"Daily row export limit reached ({limits.max_rows_per_day:,})"
            )
        )
        return found
    allowed = min(limits.max_rows_per_export, limits.max_rows_per_day - current.rows)
    if rows > allowed:
        limit = "maxRowsPerExport" if allowed == limits.max_rows_per_export else "maxRowsPerDay"
        found.append(
            QuotaExceeded(limit, f"Export exceeds maximum row limit ({rows:,} > {allowed:,})")
        )
    return found


def reserve(
    usage: QuotaUsage | None, limits: Limits, job_id: str, rows: int, today: date
) -> QuotaUsage:
    """Check the limits and reserve `rows` for the job; raise QuotaExceeded naming the limit.

    Reserving the same job again changes nothing (a command redelivered after a crash).
    """
    current = (usage or QuotaUsage(day=today)).on(today)
    if job_id in current.active:
        return current
    found = problems(current, limits, rows, today)
    if found:
        raise found[0]
    return current.model_copy(
        update={
            "rows": current.rows + rows,
            "exports": current.exports + 1,
            "active": {**current.active, job_id: Reservation(rows=rows, day=today)},
            "version": current.version + 1,
        }
    )


def settle(
    usage: QuotaUsage | None, job_id: str, completed_rows: int | None, today: date
) -> QuotaUsage | None:
    """Free the job's slot; a completed export counts its actual rows, any other outcome
    releases its reservation. Settling a job twice changes nothing."""
    if usage is None or job_id not in usage.active:
        return usage
    held = usage.active[job_id]
    current = usage.on(today)
    rows = current.rows
    # A reservation from an earlier day no longer counts against today.
    if held.day == current.day:
        rows = rows - held.rows + (completed_rows or 0)
    active = {k: v for k, v in current.active.items() if k != job_id}
    return current.model_copy(
        update={"rows": max(rows, 0), "active": active, "version": current.version + 1}
    )


def summary(usage: QuotaUsage | None, limits: Limits, today: date) -> dict[str, int]:
    """The seed's usage summary."""
    current = (usage or QuotaUsage(day=today)).on(today)
    return {
        "dailyRowsUsed": current.rows,
        "dailyRowsRemaining": max(0, limits.max_rows_per_day - current.rows),
        "dailyExportsUsed": current.exports,
        "dailyExportsRemaining": max(0, limits.max_exports_per_day - current.exports),
        "concurrentActive": len(current.active),
        "concurrentLimit": limits.max_concurrent_exports,
    }


def retention(limits: Limits) -> timedelta:
    return timedelta(days=limits.retention_days)
