"""Schedule handler: the single writer of each schedule's events.

For each schedule-inbox message it loads the schedule's state from the schedules table,
decides (domain/schedule_decisions.py, pure), numbers the events, and returns, in this
order: the events for export.schedules, the RequestExport of each run started, and the new
state for the table. The runner sends each one acknowledged before the next, so a run's
command is out before its slot is stored as decided: handled again after a crash, the slot
sends the same command, whose derived job id makes it the same job.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime

from agents.runner import Effect, Put, Received, Send, Undecodable
from domain import schedule_inbox as si
from domain.schedule import ScheduleState, record
from domain.schedule_decisions import decide
from domain.schedule_runs import run_command
from export_contract import codec
from export_contract import models as ev
from observability.logs import log_context

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScheduleTopics:
    schedules: str
    commands: str


@dataclass(frozen=True)
class ScheduleCollaborators:
    topics: ScheduleTopics
    schedules: MutableMapping[bytes, bytes]


async def handle_schedule_inbox(received: Received, c: ScheduleCollaborators) -> list[Effect]:
    try:
        message = si.decode_schedule_message(received.value)
    except ValueError as exc:
        raise Undecodable(f"not a schedule-inbox message: {exc}") from exc
    with log_context(schedule_id=message.schedule_id):
        return handle_schedule_message(message, c, datetime.now(UTC))


def load_schedule(
    schedules: MutableMapping[bytes, bytes], schedule_id: str
) -> ScheduleState | None:
    stored = schedules.get(schedule_id.encode())
    return ScheduleState.model_validate_json(stored) if stored else None


def handle_schedule_message(
    message: si.ScheduleMessage, c: ScheduleCollaborators, now: datetime
) -> list[Effect]:
    state = load_schedule(c.schedules, message.schedule_id)
    drafts = decide(state, message)
    if not drafts:
        return []
    owner = _owner(state, message)
    if owner is None:
        return []
    new_state, events = record(state, drafts, owner, message.message_id, now)
    effects: list[Effect] = [
        Send(c.topics.schedules, message.schedule_id, codec.encode(event)) for event in events
    ]
    for event in events:
        log.info("schedule %s: %s", message.schedule_id, type(event).__name__)
        if isinstance(event, ev.ScheduleRunStarted) and new_state is not None:
            command = run_command(new_state, event)
            key = f"{command.tenant_id}:{command.user_id}"
            effects.append(Send(c.topics.commands, key, codec.encode(command)))
    if new_state is not None:
        stored = new_state.model_dump_json().encode()
        effects.append(Put(c.schedules, message.schedule_id.encode(), stored))
    return effects


def _owner(state: ScheduleState | None, message: si.ScheduleMessage) -> tuple[str, str, str] | None:
    if state is not None:
        return (state.schedule_id, state.tenant_id, state.user_id)
    if isinstance(message, si.OpenSchedule):
        return (message.schedule_id, message.tenant_id, message.user_id)
    return None
