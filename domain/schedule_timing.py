"""When a schedule's slots fall: its cron expression read in its zone, by cronsim.

cronsim follows cron's own rules across daylight-saving changes: a local time the spring
change skips runs at the first minute after the gap, and a daily time the autumn change
repeats runs once (an hourly or finer expression runs in both hours, as cron does).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from domain.field_errors import FieldError
from export_contract.schedule import ScheduleSpec

CRON_FIELDS = 5


def check_timing(spec: ScheduleSpec) -> list[FieldError]:
    """The cron expression, the zone and the start and end, with the field and the reason."""
    errors = _check_cron(spec.cron)
    try:
        zone: ZoneInfo | None = ZoneInfo(spec.timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a name too long for a file, or a folder of zones such as "Europe".
        zone = None
        errors.append(
            FieldError(
                "timezone", f"unknown time zone '{spec.timezone}'; an IANA name, e.g. Europe/Zurich"
            )
        )
    ends_first = (
        zone is not None
        and spec.start_at is not None
        and spec.end_at is not None
        and in_zone(spec.end_at, zone) <= in_zone(spec.start_at, zone)
    )
    if ends_first:
        errors.append(FieldError("endAt", "must be after startAt"))
    if not errors:
        errors += _check_first_slot(spec)
    return errors


def _check_first_slot(spec: ScheduleSpec) -> list[FieldError]:
    """A schedule that can never run again is refused, as is one whose times fall beyond
    the calendar (a start near the year 9999)."""
    try:
        first = next(slots_after(spec, datetime.now(UTC)), None)
    except (OverflowError, ValueError):
        return [FieldError("startAt", "no run time can be computed from it")]
    if first is None:
        return [FieldError("endAt", "is past: the schedule would never run")]
    return []


def _check_cron(cron: str) -> list[FieldError]:
    fields = cron.split()
    if len(fields) != CRON_FIELDS:
        return [
            FieldError(
                "cron",
                f"{len(fields)} fields given; a schedule has five (minute hour day-of-month month"
                " day-of-week), so it runs at most once a minute",
            )
        ]
    try:
        CronSim(cron, datetime.now(UTC))
    except CronSimError as exc:
        return [FieldError("cron", f"'{cron}' is not a cron expression we can run: {exc}")]
    return []


def zone_of(spec: ScheduleSpec) -> ZoneInfo:
    return ZoneInfo(spec.timezone)


def in_zone(moment: datetime, zone: ZoneInfo) -> datetime:
    """A time given without an offset is read in the schedule's zone."""
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def describe(spec: ScheduleSpec) -> str:
    """The expression in words, e.g. "At 09:00 every day"."""
    return CronSim(spec.cron, datetime.now(UTC)).explain()


def slots_after(spec: ScheduleSpec, after: datetime) -> Iterator[datetime]:
    """The schedule's slots strictly after `after`, in UTC, from its start to its end."""
    zone = zone_of(spec)
    start = in_zone(spec.start_at, zone) if spec.start_at else None
    end = in_zone(spec.end_at, zone) if spec.end_at else None
    if start is not None and start > after:
        # A slot exactly at startAt counts: begin just before it.
        after = start - timedelta(microseconds=1)
    for local in CronSim(spec.cron, after.astimezone(zone)):
        if end is not None and local > end:
            return
        yield local.astimezone(UTC)


def slots_between(spec: ScheduleSpec, after: datetime, through: datetime) -> Iterator[datetime]:
    """The slots in (after, through]."""
    for slot in slots_after(spec, after):
        if slot > through:
            return
        yield slot
