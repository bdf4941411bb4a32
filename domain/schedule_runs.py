"""Which of a schedule's slots start a run, and the command each run sends.

Decided by the schedule agent, the single writer of the schedule's log, whenever a tick
says slots may be due. A slot is decided once (the state's `decided_through` moves past it)
and its job id is derived from the schedule and the slot, so a tick handled again after a
crash, or by the next owner after a rebalance, starts no second job for the same slot.
"""

from __future__ import annotations

from collections.abc import Iterator
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
# At most this many slots are run by one decision (catchUp ALL after a long outage); the
# rest by the next tick.
SLOTS_PER_DECISION = 500
# Runs are requested as their owner, who needed this role to create the schedule.
RUN_ROLES = ["exports:create"]


def due_drafts(state: ScheduleState, as_of: datetime) -> list[Draft]:
    """The RunStarted and RunSkipped events for the slots in (decided_through, as_of]."""
    if state.status is not ScheduleStatus.ACTIVE:
        return []
    try:
        return _Decision(state, as_of).drafts()
    except (OverflowError, ValueError):
        return []  # the next slot lies past the calendar's end (year 9999): none is due


class _Decision:
    """One tick's decision. Missed slots (seen more than ON_TIME late) are counted rather
    than listed, since an outage of days holds thousands of a frequent schedule's slots:
    catchUp ONE and NONE record them as one skip each run of them."""

    def __init__(self, state: ScheduleState, as_of: datetime) -> None:
        self.state = state
        self.as_of = as_of
        self.drafts_: list[Draft] = []
        self.run_number = state.next_run_number
        self.running = bool(state.open_runs)

    def drafts(self) -> list[Draft]:
        spec, after = self.state.spec, self.state.decided_through
        missed_through = self.as_of - ON_TIME
        if spec.catch_up is CatchUp.ALL:
            missed_through = after  # every slot is run, missed or not: listed below
        missed = _count(slots_between(spec, after, missed_through))
        if missed is not None:
            first, before_last, last, count = missed
            if spec.catch_up is CatchUp.NONE:
                self._skip(first, last, count, "missed while no worker was running (catchUp NONE)")
            else:
                reason = f"missed while no worker was running; caught up by the run of {last}"
                if count > 1:
                    self._skip(first, before_last, count - 1, reason)
                self._run(last)
            after = last
        for slot in islice(slots_between(spec, after, self.as_of), SLOTS_PER_DECISION):
            self._run(slot)
        return self.drafts_

    def _run(self, slot: datetime) -> None:
        if self.state.spec.incremental and self.running:
            reason = "the previous run was still going; the next run exports these rows"
            self._skip(slot, slot, 1, reason)
            return
        self.drafts_.append((ev.ScheduleRunStarted, _started(self.state, slot, self.run_number)))
        self.run_number += 1
        self.running = True

    def _skip(self, first: datetime, last: datetime, count: int, reason: str) -> None:
        fields = {"slot": first, "last_slot": last, "slots": count, "reason": reason}
        self.drafts_.append((ev.ScheduleRunSkipped, fields))


# Counting stops here; the rest is decided by the next tick.
MOST_COUNTED = 1_000_000


def _count(slots: Iterator[datetime]) -> tuple[datetime, datetime, datetime, int] | None:
    """The first, second-to-last and last slot, and how many there are."""
    first = before_last = last = None
    count = 0
    for slot in islice(slots, MOST_COUNTED):
        first = first or slot
        before_last, last = last, slot
        count += 1
    if first is None or last is None:
        return None
    return first, before_last or first, last, count


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
