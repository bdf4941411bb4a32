"""Which of a schedule's slots start a run, and the command each run sends.

Decided by the schedule agent, the single writer of the schedule's log, whenever a tick
says slots may be due. A slot is decided once (the state's `decided_through` moves past it)
and its job id is derived from the schedule and the slot, so a tick handled again after a
crash, or by the next owner after a rebalance, starts no second job for the same slot.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from domain.schedule import Draft, ScheduleState
from domain.schedule_timing import slots_between
from export_contract import models as ev
from export_contract.ids import job_id_for, run_command_id
from export_contract.schedule import CatchUp, IfEmpty, ScheduleStatus

# A slot seen within this long after its time is on time; later, it was missed (no worker
# was running) and the schedule's catchUp decides.
ON_TIME = timedelta(minutes=1)
# A worker back after a long outage decides the missed slots in batches of this many.
SLOTS_PER_DECISION = 500
# Runs are requested as their owner, who needed this role to create the schedule.
RUN_ROLES = ["exports:create"]


def due_drafts(state: ScheduleState, as_of: datetime) -> list[Draft]:
    """The RunStarted and RunSkipped events for the slots in (decided_through, as_of]."""
    if state.status is not ScheduleStatus.ACTIVE:
        return []
    due = slots_between(state.spec, state.decided_through, as_of)
    try:
        slots = list(islice(due, SLOTS_PER_DECISION))
    except (OverflowError, ValueError):
        return []  # the next slot lies past the calendar's end (year 9999): none is due
    late = [slot for slot in slots if as_of - slot > ON_TIME]
    skips = _skipped_for_catch_up(state.spec.catch_up, late)
    drafts: list[Draft] = []
    run_number = state.next_run_number
    running = bool(state.open_runs)
    for slot in slots:
        if slot in skips:
            drafts.append((ev.ScheduleRunSkipped, {"slot": slot, "reason": skips[slot]}))
        elif state.spec.incremental and running:
            reason = "the previous run was still going; the next run exports these rows"
            drafts.append((ev.ScheduleRunSkipped, {"slot": slot, "reason": reason}))
        else:
            drafts.append((ev.ScheduleRunStarted, _started(state, slot, run_number)))
            run_number += 1
            running = True
    return drafts


def _skipped_for_catch_up(catch_up: CatchUp, late: list[datetime]) -> dict[datetime, str]:
    missed = "missed while no worker was running"
    if catch_up is CatchUp.ALL or not late:
        return {}
    if catch_up is CatchUp.NONE:
        return dict.fromkeys(late, f"{missed} (catchUp NONE)")
    latest = late[-1].isoformat()
    return dict.fromkeys(late[:-1], f"{missed}; caught up by the run of the slot {latest}")


def _started(state: ScheduleState, slot: datetime, run_number: int) -> dict[str, Any]:
    command_id = run_command_id(state.schedule_id, slot)
    return {
        "slot": slot,
        "run_number": run_number,
        "job_id": job_id_for(state.tenant_id, command_id),
        "key_after": state.key_mark if state.spec.incremental else None,
    }


def run_command(state: ScheduleState, started: ev.ScheduleRunStarted) -> ev.RequestExport:
    """The RequestExport a started run sends: an ordinary export, marked with its run."""
    return ev.RequestExport(
        command_id=run_command_id(state.schedule_id, started.slot),
        tenant_id=state.tenant_id,
        user_id=state.user_id,
        roles=RUN_ROLES,
        issued_at=started.envelope.occurred_at,
        request=state.spec.export_request,
        schedule=ev.ScheduledRun(
            schedule_id=state.schedule_id,
            run_number=started.run_number,
            slot=started.slot,
            incremental=state.spec.incremental,
            key_after=started.key_after,
            skip_if_empty=state.spec.if_empty is IfEmpty.SKIP,
        ),
    )
