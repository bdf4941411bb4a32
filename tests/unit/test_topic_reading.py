"""The rule that tells a whole-topic reader its consumer stopped fetching, with offsets replayed."""

from __future__ import annotations

import contextlib

import pytest

from projections.topic_reading import FetchWatch, StoppedFetching


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def watch_of(ends: dict[int, int], clock: Clock) -> FetchWatch:
    return FetchWatch("export.limits", lambda: ends, every=5.0, clock=clock)


def test_a_reader_behind_that_does_not_move_between_two_checks_is_made_again() -> None:
    clock = Clock()
    watch = watch_of({0: 10, 1: 4}, clock)
    clock.now = 5
    watch.check({0: 7, 1: 4})  # behind on 0: noted, not yet stuck
    clock.now = 10
    with pytest.raises(StoppedFetching) as raised:
        watch.check({0: 7, 1: 4})
    assert raised.value.args[0] == {0: 7}


def test_a_reader_behind_but_moving_is_left_alone() -> None:
    clock = Clock()
    ends = {0: 100}
    watch = watch_of(ends, clock)
    for step, read in enumerate([10, 30, 60, 90], start=1):
        clock.now = 5 * step
        ends[0] += 5  # the topic grows while the reader catches up
        watch.check({0: read})


def test_an_idle_reader_at_the_end_is_never_stuck() -> None:
    clock = Clock()
    watch = watch_of({0: 3, 1: 0}, clock)
    for step in range(1, 6):
        clock.now = 5 * step
        watch.check({0: 3})  # partition 1 was never written: nothing is owed on it


def test_the_broker_is_asked_at_most_once_per_interval() -> None:
    clock = Clock()
    asked: list[float] = []

    def ends() -> dict[int, int]:
        asked.append(clock.now)
        return {0: 1}

    watch = FetchWatch("export.stops", ends, every=5.0, clock=clock)
    for tick in range(0, 50):
        clock.now = tick * 0.5
        with contextlib.suppress(StoppedFetching):
            watch.check({0: 0})
    assert asked == [5.0, 10.0, 15.0, 20.0]


def test_after_being_made_again_a_reader_gets_two_checks_before_the_next_verdict() -> None:
    clock = Clock()
    watch = watch_of({0: 10}, clock)
    clock.now = 5
    watch.check({0: 2})
    clock.now = 10
    with pytest.raises(StoppedFetching):
        watch.check({0: 2})
    clock.now = 15
    watch.check({0: 2})  # the new consumer has not had its chance yet
