"""The schedule agent's handler with a dict for its table: the effects it returns, in the
order the runner carries them out, and what a message handled again does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agents.runner import Put, Send
from agents.schedule_agent import (
    ScheduleCollaborators,
    ScheduleTopics,
    handle_schedule_message,
    load_schedule,
)
from domain import schedule_inbox as si
from domain.inbox import Rejection
from export_contract import codec
from export_contract import models as ev
from export_contract.schedule import RunStatus, ScheduleSpec, ScheduleStatus
from tests.unit.builders import TENANT, USER, request_payload

SCHEDULE = "5c5c5c5c-0000-4000-8000-000000000002"
OTHER_USER = "0d0d0d0d-0000-4000-8000-000000000099"
NOON = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
TOPICS = ScheduleTopics(schedules="export.schedules", commands="export.commands")


def collaborators() -> ScheduleCollaborators:
    return ScheduleCollaborators(TOPICS, {})


def spec(**overrides: object) -> ScheduleSpec:
    body = {"name": "hourly", "cron": "0 * * * *", "exportRequest": request_payload()}
    return ScheduleSpec.model_validate({**body, **overrides})


def carry_out(c: ScheduleCollaborators, message: si.ScheduleMessage, now: datetime) -> list[object]:
    """Handle and apply the effects as the runner would; return what was sent, decoded."""
    sent: list[object] = []
    for effect in handle_schedule_message(message, c, now):
        if isinstance(effect, Put):
            effect.table[effect.key] = effect.value
        else:
            assert isinstance(effect, Send)
            sent.append(codec.decode(effect.value))
    return sent


def open_schedule(c: ScheduleCollaborators, **overrides: object) -> None:
    message = si.OpenSchedule(
        schedule_id=SCHEDULE,
        message_id="create-1",
        tenant_id=TENANT,
        user_id=USER,
        command_id="create-1",
        spec=spec(**overrides),
    )
    (created,) = carry_out(c, message, NOON)
    assert isinstance(created, ev.ScheduleCreated)


def test_a_due_slot_sends_its_event_then_its_command_then_stores_the_state() -> None:
    c = collaborators()
    open_schedule(c)
    effects = handle_schedule_message(
        si.SlotsDue(schedule_id=SCHEDULE, message_id="tick", as_of=NOON + timedelta(hours=1)),
        c,
        NOON + timedelta(hours=1),
    )
    assert [type(e).__name__ for e in effects] == ["Send", "Send", "Put"]
    event, command = (codec.decode(e.value) for e in effects[:2] if isinstance(e, Send))
    assert isinstance(event, ev.ScheduleRunStarted) and isinstance(command, ev.RequestExport)
    assert effects[1].topic == TOPICS.commands and effects[1].key == f"{TENANT}:{USER}"  # type: ignore[union-attr]
    assert command.schedule is not None and command.schedule.run_number == 1


def test_a_tick_handled_again_after_its_state_was_stored_sends_nothing() -> None:
    c = collaborators()
    open_schedule(c)
    tick = si.SlotsDue(schedule_id=SCHEDULE, message_id="t", as_of=NOON + timedelta(hours=1))
    assert len(carry_out(c, tick, tick.as_of)) == 2
    assert carry_out(c, tick, tick.as_of) == []


def test_a_rejected_schedule_records_its_rejection_and_keeps_no_state() -> None:
    c = collaborators()
    message = si.OpenSchedule(
        schedule_id=SCHEDULE,
        message_id="create-2",
        tenant_id=TENANT,
        user_id=USER,
        command_id="create-2",
        spec=spec(),
        rejection=Rejection(code="INVALID_REQUEST", reason="cron: 6 fields given", field="cron"),
    )
    (rejected,) = carry_out(c, message, NOON)
    assert isinstance(rejected, ev.ScheduleRejected) and rejected.field == "cron"
    assert load_schedule(c.schedules, SCHEDULE) is None


def change(kind: str, user: str = USER, message_id: str = "change-1") -> si.ChangeSchedule:
    return si.ChangeSchedule(
        schedule_id=SCHEDULE,
        message_id=message_id,
        tenant_id=TENANT,
        user_id=user,
        roles=["exports:create"],
        change=kind,  # type: ignore[arg-type]
    )


def test_only_the_owner_changes_a_schedule_and_a_change_applies_once() -> None:
    c = collaborators()
    open_schedule(c)
    (refused,) = carry_out(c, change("PAUSE", user=OTHER_USER), NOON)
    assert isinstance(refused, ev.ScheduleCommandRefused) and refused.code == "FORBIDDEN"
    (paused,) = carry_out(c, change("PAUSE", message_id="pause-1"), NOON)
    assert isinstance(paused, ev.SchedulePaused)
    assert carry_out(c, change("PAUSE", message_id="pause-1"), NOON) == []
    (deleted,) = carry_out(c, change("DELETE", message_id="delete-1"), NOON)
    assert isinstance(deleted, ev.ScheduleDeleted)
    state = load_schedule(c.schedules, SCHEDULE)
    assert state is not None and state.status is ScheduleStatus.DELETED
    (after,) = carry_out(c, change("RESUME", message_id="resume-1"), NOON)
    assert isinstance(after, ev.ScheduleCommandRefused) and after.code == "NOT_FOUND"


def test_an_ended_run_is_recorded_once_and_moves_the_mark_when_it_completed() -> None:
    c = collaborators()
    open_schedule(c, incremental=True)
    tick = si.SlotsDue(schedule_id=SCHEDULE, message_id="t", as_of=NOON + timedelta(hours=1))
    started = next(
        e for e in carry_out(c, tick, tick.as_of) if isinstance(e, ev.ScheduleRunStarted)
    )
    ended = si.RunEnded(
        schedule_id=SCHEDULE,
        message_id=f"ended:{started.job_id}",
        job_id=started.job_id,
        status=RunStatus.COMPLETED,
        rows=1200,
        key_through=9_000,
    )
    (finished,) = carry_out(c, ended, NOON + timedelta(hours=1, minutes=2))
    assert isinstance(finished, ev.ScheduleRunFinished)
    assert (finished.key_after, finished.key_through, finished.rows) == (None, 9_000, 1200)
    assert carry_out(c, ended, NOON + timedelta(hours=1, minutes=3)) == []
    state = load_schedule(c.schedules, SCHEDULE)
    assert state is not None and state.key_mark == 9_000 and state.open_runs == []
