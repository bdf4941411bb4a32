"""The export_schedules and schedule_runs read model: one transaction per schedule event,
idempotent by sequence, as the jobs' read model is."""

from __future__ import annotations

import json
import logging
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from domain.schedule import ScheduleState, apply
from domain.schedule_timing import slots_after
from export_contract import models as ev
from export_contract.schedule import ScheduleStatus

log = logging.getLogger(__name__)

UPSERT_SCHEDULE = """
INSERT INTO export_service.export_schedules (
    id, tenant_id, owner_id, name, description, cron, timezone, status, spec, rejection,
    next_slot_at, created_at, updated_at, last_sequence, schedule_state)
VALUES (
    %(id)s, %(tenant_id)s, %(owner_id)s, %(name)s, %(description)s, %(cron)s, %(timezone)s,
    %(status)s, %(spec)s, %(rejection)s, %(next_slot_at)s, %(at)s, %(at)s, %(last_sequence)s,
    %(schedule_state)s)
ON CONFLICT (id) DO UPDATE SET
    name = excluded.name, description = excluded.description, cron = excluded.cron,
    timezone = excluded.timezone, status = excluded.status, spec = excluded.spec,
    next_slot_at = excluded.next_slot_at, updated_at = excluded.updated_at,
    last_sequence = excluded.last_sequence, schedule_state = excluded.schedule_state
"""

DECIDE_RUN = """
INSERT INTO export_service.schedule_runs
    (schedule_id, slot, run_number, job_id, status, key_after, reason, decided_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (schedule_id, slot) DO NOTHING
"""

FINISH_RUN = """
UPDATE export_service.schedule_runs
SET status = %s, rows = %s, key_after = %s, key_through = %s, reason = %s, finished_at = %s
WHERE schedule_id = %s AND slot = %s
"""


LIVE_SCHEDULES = """
SELECT count(*) FROM export_service.export_schedules
WHERE tenant_id = %s AND owner_id = %s AND status IN ('ACTIVE', 'PAUSED')
"""


async def live_schedules(conn: AsyncConnection[Any], tenant_id: str, user_id: str) -> int:
    """How many schedules the user has that still run or may again (paused)."""
    cursor = await conn.execute(LIVE_SCHEDULES, [tenant_id, user_id])
    row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def project_schedule(conn: AsyncConnection[Any], event: ev.ScheduleLogEvent) -> bool:
    """Apply one schedule event; False when it was already applied."""
    schedule_id = event.envelope.schedule_id
    async with conn.transaction():
        cursor = await conn.execute(
            "SELECT last_sequence, schedule_state FROM export_service.export_schedules"
            " WHERE id = %s FOR UPDATE",
            [schedule_id],
        )
        row = await cursor.fetchone()
        if row is not None and row[0] >= event.envelope.sequence:
            return False
        if isinstance(event, ev.ScheduleRejected):
            await conn.execute(UPSERT_SCHEDULE, _rejected_row(event))
            return True
        state = ScheduleState.model_validate(row[1]) if row and row[1] else None
        if state is None and not isinstance(event, ev.ScheduleCreated):
            log.warning("skipping %s for unknown schedule %s", type(event).__name__, schedule_id)
            return False
        state = apply(state, event)
        assert state is not None
        await conn.execute(UPSERT_SCHEDULE, _schedule_row(state, event))
        await _project_run(conn, event)
    return True


async def _project_run(conn: AsyncConnection[Any], event: ev.ScheduleLogEvent) -> None:
    schedule_id = event.envelope.schedule_id
    at = event.envelope.occurred_at
    if isinstance(event, ev.ScheduleRunStarted):
        values = [event.run_number, event.job_id, "RUNNING", event.key_after, None, at]
        await conn.execute(DECIDE_RUN, [schedule_id, event.slot, *values])
    elif isinstance(event, ev.ScheduleRunSkipped):
        reason = event.reason
        if event.slots > 1 and event.last_slot is not None:
            span = (
                f"{event.slots:,} slots, {event.slot.isoformat()} to {event.last_slot.isoformat()}"
            )
            reason = f"{span}: {reason}"
        values = [None, None, "SKIPPED", None, reason, at]
        await conn.execute(DECIDE_RUN, [schedule_id, event.slot, *values])
    elif isinstance(event, ev.ScheduleRunFinished):
        values = [event.status.value, event.rows, event.key_after, event.key_through]
        await conn.execute(FINISH_RUN, [*values, event.reason, at, schedule_id, event.slot])


def _schedule_row(state: ScheduleState, event: ev.ScheduleLogEvent) -> dict[str, object]:
    spec = state.spec
    next_slot = None
    if state.status is ScheduleStatus.ACTIVE:
        try:
            next_slot = next(slots_after(spec, state.decided_through), None)
        except (OverflowError, ValueError):
            next_slot = None  # past the calendar's end (year 9999): no slot is left
    return {
        "id": state.schedule_id,
        "tenant_id": state.tenant_id,
        "owner_id": state.user_id,
        "name": spec.name,
        "description": spec.description,
        "cron": spec.cron,
        "timezone": spec.timezone,
        "status": state.status.value,
        "spec": Jsonb(json.loads(spec.model_dump_json(by_alias=True))),
        "rejection": None,
        "next_slot_at": next_slot,
        "at": event.envelope.occurred_at,
        "last_sequence": event.envelope.sequence,
        "schedule_state": Jsonb(json.loads(state.model_dump_json())),
    }


def _rejected_row(event: ev.ScheduleRejected) -> dict[str, object]:
    envelope = event.envelope
    rejection = {"code": event.code, "reason": event.reason, "field": event.field}
    return {
        "id": envelope.schedule_id,
        "tenant_id": envelope.tenant_id,
        "owner_id": envelope.user_id,
        "name": "",
        "description": None,
        "cron": "",
        "timezone": "",
        "status": "REJECTED",
        "spec": Jsonb({}),
        "rejection": Jsonb(rejection),
        "next_slot_at": None,
        "at": envelope.occurred_at,
        "last_sequence": envelope.sequence,
        "schedule_state": None,
    }
