"""What the schedule agent records for each message: pure, given the schedule's state.

Handling a message again (after a crash, before its state was stored) decides the same
events, or nothing once the state shows them: commands are remembered by id, a run that
already ended is not ended twice, and slots are decided once (domain/schedule_runs.py).
"""

from __future__ import annotations

from domain import schedule_inbox as si
from domain.decisions import ADMIN_ROLE
from domain.schedule import Draft, ScheduleState
from domain.schedule_runs import due_drafts
from export_contract import models as ev
from export_contract.schedule import ScheduleStatus

CHANGES: dict[str, type[ev.ScheduleEvent]] = {
    "UPDATE": ev.ScheduleUpdated,
    "PAUSE": ev.SchedulePaused,
    "RESUME": ev.ScheduleResumed,
    "DELETE": ev.ScheduleDeleted,
}


def decide(state: ScheduleState | None, message: si.ScheduleMessage) -> list[Draft]:
    match message:
        case si.OpenSchedule():
            return [] if state is not None else _open(message)
        case si.ChangeSchedule() if state is not None:
            return _change(state, message)
        case si.SlotsDue() if state is not None:
            return due_drafts(state, message.as_of)
        case si.RunEnded() if state is not None:
            return _run_ended(state, message)
    return []


def _open(message: si.OpenSchedule) -> list[Draft]:
    if message.rejection is not None:
        fields = {"command_id": message.command_id, **message.rejection.model_dump()}
        return [(ev.ScheduleRejected, fields)]
    return [(ev.ScheduleCreated, {"command_id": message.command_id, "schedule": message.spec})]


def _change(state: ScheduleState, message: si.ChangeSchedule) -> list[Draft]:
    if message.message_id in state.recent_commands:
        return []
    refusal = _refusal(state, message)
    if refusal is not None:
        return [(ev.ScheduleCommandRefused, {"command_id": message.message_id, **refusal})]
    if message.change == "PAUSE" and state.status is ScheduleStatus.PAUSED:
        return []
    if message.change == "RESUME" and state.status is ScheduleStatus.ACTIVE:
        return []
    fields = {"schedule": message.spec} if message.change == "UPDATE" else {}
    return [(CHANGES[message.change], fields)]


def _refusal(state: ScheduleState, message: si.ChangeSchedule) -> dict[str, str | None] | None:
    if message.rejection is not None:
        return message.rejection.model_dump()
    if state.status is ScheduleStatus.DELETED:
        return {"code": "NOT_FOUND", "reason": "the schedule was deleted", "field": None}
    if message.user_id != state.user_id and ADMIN_ROLE not in message.roles:
        reason = f"only its owner or the role {ADMIN_ROLE} may change a schedule"
        return {"code": "FORBIDDEN", "reason": reason, "field": None}
    if message.change == "UPDATE" and message.spec is None:
        return {"code": "INVALID_REQUEST", "reason": "an update needs the schedule", "field": None}
    return None


def _run_ended(state: ScheduleState, message: si.RunEnded) -> list[Draft]:
    run = next((r for r in state.open_runs if r.job_id == message.job_id), None)
    if run is None:
        return []
    fields = {
        "run_number": run.run_number,
        "slot": run.slot,
        "job_id": run.job_id,
        "status": message.status,
        "rows": message.rows,
        "key_after": run.key_after,
        "key_through": message.key_through if state.spec.incremental else None,
        "reason": message.reason,
    }
    return [(ev.ScheduleRunFinished, fields)]
