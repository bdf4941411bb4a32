"""A schedule's state, as the fold of its events.

The schedule agent is the single writer of each schedule's log (export.schedules, keyed by
schedule id), as the job agent is of each job's; the state is what its decisions need: the
description, whether it runs, which slots are decided, the run in flight and, for an
incremental schedule, the key mark the next run starts above.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from pydantic import BaseModel, ConfigDict

from export_contract import models as ev
from export_contract.schedule import RunStatus, ScheduleSpec, ScheduleStatus

# An event to record: its class and its fields, without the envelope.
Draft = tuple[type[ev.ScheduleEvent], dict[str, Any]]
# Event ids are derived, so a decision replayed after a crash produces the very same ids.
SCHEDULE_EVENT_NAMESPACE = uuid5(NAMESPACE_URL, "urn:export-service:schedule-event")


# Events a change command causes, and how many of those commands a state remembers.
CHANGE_EVENTS = (
    ev.ScheduleUpdated,
    ev.SchedulePaused,
    ev.ScheduleResumed,
    ev.ScheduleDeleted,
    ev.ScheduleCommandRefused,
)
RECENT_COMMANDS = 20


class OpenRun(BaseModel):
    model_config = ConfigDict(frozen=True)

    run_number: int
    slot: datetime
    job_id: str
    key_after: int | None = None


class ScheduleState(BaseModel):
    model_config = ConfigDict(frozen=True)

    schedule_id: str
    tenant_id: str
    user_id: str
    spec: ScheduleSpec
    status: ScheduleStatus
    sequence: int
    # Every slot at or before this time has been decided: run or skipped.
    decided_through: datetime
    next_run_number: int = 1
    open_runs: list[OpenRun] = []
    # The last successful incremental run's highest key: the next run exports keys above it.
    key_mark: int | None = None
    # The last changes' command ids, so that a change handled again records nothing.
    recent_commands: list[str] = []


def apply(state: ScheduleState | None, event: ev.ScheduleLogEvent) -> ScheduleState | None:
    """The state after `event`; a rejected schedule has none."""
    seq = event.envelope.sequence
    if isinstance(event, ev.ScheduleCreated):
        return ScheduleState(
            schedule_id=event.envelope.schedule_id,
            tenant_id=event.envelope.tenant_id,
            user_id=event.envelope.user_id,
            spec=event.schedule,
            status=ScheduleStatus.ACTIVE,
            sequence=seq,
            decided_through=event.envelope.occurred_at,
        )
    if state is None:
        return None
    update: dict[str, object] = {"sequence": seq}
    if isinstance(event, CHANGE_EVENTS):
        commands = [*state.recent_commands, event.envelope.causation_id]
        update["recent_commands"] = commands[-RECENT_COMMANDS:]
    return _apply_to(state, event).model_copy(update=update)


def _apply_to(state: ScheduleState, event: ev.ScheduleLogEvent) -> ScheduleState:
    at = event.envelope.occurred_at
    match event:
        case ev.ScheduleUpdated():
            return state.model_copy(update={"spec": event.schedule, "decided_through": at})
        case ev.SchedulePaused():
            return state.model_copy(update={"status": ScheduleStatus.PAUSED})
        case ev.ScheduleResumed():
            # Slots that fell while it was paused are not caught up.
            return state.model_copy(update={"status": ScheduleStatus.ACTIVE, "decided_through": at})
        case ev.ScheduleDeleted():
            return state.model_copy(update={"status": ScheduleStatus.DELETED})
        case ev.ScheduleRunStarted():
            run = OpenRun(
                run_number=event.run_number,
                slot=event.slot,
                job_id=event.job_id,
                key_after=event.key_after,
            )
            return state.model_copy(
                update={
                    "open_runs": [*state.open_runs, run],
                    "next_run_number": event.run_number + 1,
                    "decided_through": max(state.decided_through, event.slot),
                }
            )
        case ev.ScheduleRunSkipped():
            last = event.last_slot or event.slot
            return state.model_copy(update={"decided_through": max(state.decided_through, last)})
        case ev.ScheduleRunFinished():
            return _finished(state, event)
    return state


def _finished(state: ScheduleState, event: ev.ScheduleRunFinished) -> ScheduleState:
    open_runs = [r for r in state.open_runs if r.job_id != event.job_id]
    mark = state.key_mark
    # Only a completed run moves the mark: a failed or cancelled run's rows go to the next.
    if event.status is RunStatus.COMPLETED and event.key_through is not None:
        mark = max(mark, event.key_through) if mark is not None else event.key_through
    return state.model_copy(update={"open_runs": open_runs, "key_mark": mark})


def record(
    state: ScheduleState | None,
    drafts: list[Draft],
    owner: tuple[str, str, str],
    causation_id: str,
    now: datetime,
) -> tuple[ScheduleState | None, list[ev.ScheduleLogEvent]]:
    """Number and envelope the drafts (owner: schedule, tenant, user), and fold them in."""
    schedule_id, tenant_id, user_id = owner
    events: list[ev.ScheduleLogEvent] = []
    sequence = state.sequence if state else 0
    for cls, fields in drafts:
        sequence += 1
        envelope = ev.ScheduleEnvelope(
            event_id=str(uuid5(SCHEDULE_EVENT_NAMESPACE, f"{schedule_id}:{sequence}")),
            schedule_id=schedule_id,
            tenant_id=tenant_id,
            user_id=user_id,
            sequence=sequence,
            occurred_at=now,
            causation_id=causation_id,
        )
        event: ev.ScheduleLogEvent = cls(envelope=envelope, **fields)  # type: ignore[assignment]
        state = apply(state, event)
        events.append(event)
    return state, events
