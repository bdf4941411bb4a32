"""Schedules as pure logic: timing checks name the field, slots follow the zone across
daylight-saving changes, each slot is decided once, catchUp says what a missed slot does,
and an incremental schedule's mark moves only with a completed run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.schedule import ScheduleState, record
from domain.schedule_runs import due_drafts, run_command
from domain.schedule_timing import check_timing, slots_between
from export_contract import codec
from export_contract import models as ev
from export_contract.ids import job_id_for, run_command_id
from export_contract.schedule import RunStatus, ScheduleSpec, ScheduleStatus
from tests.unit.builders import TENANT, USER, request_payload

SCHEDULE = "5c5c5c5c-0000-4000-8000-000000000001"
OWNER = (SCHEDULE, TENANT, USER)
CREATED = datetime(2030, 1, 1, 0, 0, 0, tzinfo=UTC)


def spec(**overrides: Any) -> ScheduleSpec:
    body: dict[str, Any] = {
        "name": "every minute",
        "cron": "* * * * *",
        "exportRequest": request_payload(),
    }
    body.update(overrides)
    return ScheduleSpec.model_validate(body)


def created(schedule: ScheduleSpec, at: datetime = CREATED) -> ScheduleState:
    drafts = [(ev.ScheduleCreated, {"command_id": "create-1", "schedule": schedule})]
    state, _ = record(None, drafts, OWNER, "create-1", at)
    assert state is not None
    return state


def tick(state: ScheduleState, as_of: datetime) -> tuple[ScheduleState, list[ev.ScheduleLogEvent]]:
    new_state, events = record(state, due_drafts(state, as_of), OWNER, f"tick:{as_of}", as_of)
    assert new_state is not None
    return new_state, events


def started(events: list[ev.ScheduleLogEvent]) -> list[ev.ScheduleRunStarted]:
    return [e for e in events if isinstance(e, ev.ScheduleRunStarted)]


def minute(n: int, seconds: int = 0) -> datetime:
    return CREATED + timedelta(minutes=n, seconds=seconds)


# Timing checks.


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"cron": "* * * * * *"}, "cron", "6 fields given"),
        ({"cron": "* * *"}, "cron", "3 fields given"),
        ({"cron": "61 * * * *"}, "cron", "Bad minute"),
        ({"cron": "0 0 30 2 *"}, "cron", "Bad day-of-month"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "unknown time zone 'Mars/Olympus_Mons'"),
        ({"timezone": "../etc/passwd"}, "timezone", "unknown time zone"),
        ({"timezone": "Europe"}, "timezone", "unknown time zone"),
        ({"timezone": "Z" * 300}, "timezone", "unknown time zone"),
        ({"endAt": "2020-01-01T00:00:00Z"}, "endAt", "is past"),
        ({"cron": "0 0 29 2 *", "startAt": "9999-03-01T00:00:00Z"}, "startAt", "no run time"),
        (
            {"startAt": "2030-01-02T00:00:00Z", "endAt": "2030-01-01T00:00:00Z"},
            "endAt",
            "must be after startAt",
        ),
    ],
)
def test_bad_timing_is_refused_naming_the_field(
    overrides: dict[str, Any], field: str, reason: str
) -> None:
    errors = check_timing(spec(**overrides))
    assert [e.field for e in errors] == [field]
    assert reason in errors[0].reason


def test_good_timing_passes() -> None:
    assert check_timing(spec(cron="0 9 * * 1-5", timezone="Europe/Zurich")) == []


# Slots in the schedule's zone, across daylight-saving changes (Europe/Zurich, 2027).


def test_a_daily_local_time_keeps_its_local_hour_across_the_spring_change() -> None:
    morning = spec(cron="0 9 * * *", timezone="Europe/Zurich")
    slots = list(
        slots_between(
            morning, datetime(2027, 3, 26, 12, tzinfo=UTC), datetime(2027, 3, 29, 12, tzinfo=UTC)
        )
    )
    assert slots == [
        datetime(2027, 3, 27, 8, 0, tzinfo=UTC),  # 09:00 CET (+01:00)
        datetime(2027, 3, 28, 7, 0, tzinfo=UTC),  # 09:00 CEST (+02:00)
        datetime(2027, 3, 29, 7, 0, tzinfo=UTC),
    ]


def test_a_time_the_spring_change_skips_runs_at_the_end_of_the_gap_and_the_repeated_hour_once() -> (
    None
):
    night = spec(cron="30 2 * * *", timezone="Europe/Zurich")
    spring = list(
        slots_between(
            night, datetime(2027, 3, 27, 12, tzinfo=UTC), datetime(2027, 3, 29, 12, tzinfo=UTC)
        )
    )
    # 02:30 does not exist on 28 March: cron runs it at 03:00 CEST (01:00 UTC).
    assert spring == [
        datetime(2027, 3, 28, 1, 0, tzinfo=UTC),
        datetime(2027, 3, 29, 0, 30, tzinfo=UTC),
    ]
    autumn = list(
        slots_between(
            night, datetime(2027, 10, 30, 12, tzinfo=UTC), datetime(2027, 11, 1, 12, tzinfo=UTC)
        )
    )
    # 02:30 happens twice on 31 October: the daily run happens once, at the first.
    assert autumn == [
        datetime(2027, 10, 31, 0, 30, tzinfo=UTC),
        datetime(2027, 11, 1, 1, 30, tzinfo=UTC),
    ]


def test_start_and_end_bound_the_slots() -> None:
    bounded = spec(startAt="2030-01-01T00:03:00Z", endAt="2030-01-01T00:05:00Z")
    assert list(slots_between(bounded, CREATED, minute(10))) == [minute(3), minute(4), minute(5)]


# Each slot decided once.


def test_ten_ticks_over_ten_slots_start_ten_runs_with_derived_job_ids() -> None:
    state = created(spec())
    runs: list[ev.ScheduleRunStarted] = []
    for n in range(1, 11):
        state, events = tick(state, minute(n, seconds=5))
        runs += started(events)
    assert [r.run_number for r in runs] == list(range(1, 11))
    assert [r.slot for r in runs] == [minute(n) for n in range(1, 11)]
    assert [r.job_id for r in runs] == [
        job_id_for(TENANT, run_command_id(SCHEDULE, minute(n))) for n in range(1, 11)
    ]
    # The same tick again, or an earlier one, decides nothing.
    assert due_drafts(state, minute(10, seconds=5)) == []
    assert due_drafts(state, minute(4)) == []


def test_a_tick_decided_again_after_a_crash_names_the_same_jobs() -> None:
    state = created(spec())
    first = due_drafts(state, minute(3, seconds=1))
    again = due_drafts(state, minute(3, seconds=2))  # the state was never stored
    assert first == again


def test_a_paused_schedule_starts_nothing_and_does_not_catch_up_after_resuming() -> None:
    state = created(spec())
    state, _ = record(state, [(ev.SchedulePaused, {})], OWNER, "pause", minute(1))
    assert state is not None and state.status is ScheduleStatus.PAUSED
    assert due_drafts(state, minute(5)) == []
    state, _ = record(state, [(ev.ScheduleResumed, {})], OWNER, "resume", minute(5, seconds=30))
    assert state is not None
    state, events = tick(state, minute(6, seconds=1))
    assert [r.slot for r in started(events)] == [minute(6)]


# Missed slots (no worker ran from minute 1 to 10:30): catchUp.


def outcome(catch_up: str) -> tuple[list[datetime], list[tuple[datetime, datetime | None, int]]]:
    state = created(spec(catchUp=catch_up))
    _, events = tick(state, minute(10, seconds=30))
    runs = [e.slot for e in events if isinstance(e, ev.ScheduleRunStarted)]
    skips = [(e.slot, e.last_slot, e.slots) for e in events if isinstance(e, ev.ScheduleRunSkipped)]
    return runs, skips


def test_catch_up_one_runs_the_missed_slots_once_and_records_the_rest_as_skipped() -> None:
    runs, skips = outcome("ONE")
    # Minute 10 is on time (30 s ago); 1 to 9 were missed: one run, the latest's, and one
    # skip that covers the other eight.
    assert runs == [minute(9), minute(10)]
    assert skips == [(minute(1), minute(8), 8)]


def test_catch_up_all_runs_every_missed_slot() -> None:
    runs, skips = outcome("ALL")
    assert runs == [minute(n) for n in range(1, 11)] and skips == []


def test_catch_up_none_skips_every_missed_slot() -> None:
    runs, skips = outcome("NONE")
    assert runs == [minute(10)] and skips == [(minute(1), minute(9), 9)]


def test_a_week_missed_is_one_skip_and_one_run_not_ten_thousand_events() -> None:
    state = created(spec())
    week = timedelta(days=7)
    state, events = tick(state, CREATED + week + timedelta(seconds=30))
    assert [type(e).__name__ for e in events] == [
        "ScheduleRunSkipped",
        "ScheduleRunStarted",
        "ScheduleRunStarted",
    ]
    assert events[0].slots == 7 * 24 * 60 - 2  # type: ignore[union-attr]
    # Everything up to the tick is decided: the next tick has nothing to do.
    assert due_drafts(state, CREATED + week + timedelta(seconds=31)) == []


# Incremental schedules.


def finish(
    state: ScheduleState, run: ev.ScheduleRunStarted, status: RunStatus, through: int | None
) -> ScheduleState:
    fields = {
        "run_number": run.run_number,
        "slot": run.slot,
        "job_id": run.job_id,
        "status": status,
        "rows": 0,
        "key_after": run.key_after,
        "key_through": through,
    }
    new_state, _ = record(state, [(ev.ScheduleRunFinished, fields)], OWNER, "done", run.slot)
    assert new_state is not None
    return new_state


def test_an_incremental_mark_moves_only_with_a_completed_run() -> None:
    state = created(spec(incremental=True))
    state, events = tick(state, minute(1, seconds=1))
    (first,) = started(events)
    assert first.key_after is None  # the first run starts from the first row
    # While it runs, the next slot starts nothing: two runs would read the same rows.
    state, events = tick(state, minute(2, seconds=1))
    assert started(events) == [] and isinstance(events[0], ev.ScheduleRunSkipped)
    state = finish(state, first, RunStatus.COMPLETED, through=500)
    state, events = tick(state, minute(3, seconds=1))
    (second,) = started(events)
    assert second.key_after == 500
    state = finish(state, second, RunStatus.FAILED, through=None)
    state, events = tick(state, minute(4, seconds=1))
    (third,) = started(events)
    assert third.key_after == 500  # the failed run's rows are the third's


def test_a_run_sends_an_ordinary_request_marked_with_its_run() -> None:
    state = created(spec(incremental=True, ifEmpty="SKIP"))
    _, events = tick(state, minute(1, seconds=1))
    (run,) = started(events)
    command = run_command(state, run)
    assert command.command_id == run_command_id(SCHEDULE, minute(1))
    assert job_id_for(TENANT, command.command_id) == run.job_id
    assert command.request == state.spec.export_request
    assert command.schedule is not None
    assert (command.schedule.schedule_id, command.schedule.run_number) == (SCHEDULE, 1)
    assert command.schedule.incremental and command.schedule.skip_if_empty
    assert codec.decode(codec.encode(command)) == command
    for event in events:
        assert codec.decode(codec.encode(event)) == event
