"""A worker unready for too long with the broker up is given up on; a broker that fell
silent is not its fault; readiness regained clears the clock."""

from __future__ import annotations

import logging

import pytest

from agents.readiness_watchdog import ReadinessWatchdog, UnreadyClock, Verdict
from observability.health import Check

READY = Check(True, {"kafka": "ok", "group": "ok", "tables": "ok"})
RECOVERING = Check(False, {"kafka": "ok", "group": "ok", "tables": "table recovery not finished"})
# Stuck in the first start, with a broker that has never answered the lag reader.
NEVER_ANSWERED = Check(
    False,
    {
        "kafka": "the broker has not answered yet",
        "group": "ok",
        "tables": "table recovery not finished",
    },
)
BROKER_SILENT = Check(False, {"kafka": "the broker has not answered for 20 s", "group": "ok"})


def watchdog() -> tuple[ReadinessWatchdog, list[tuple[str, float]]]:
    given_up: list[tuple[str, float]] = []
    dog = ReadinessWatchdog(
        lambda: READY,
        lambda: False,
        UnreadyClock(60.0, 240.0),
        lambda waiting_on, seconds: given_up.append((waiting_on, seconds)),
    )
    return dog, given_up


def test_unready_with_the_broker_up_warns_once_then_gives_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dog, given_up = watchdog()
    caplog.set_level(logging.WARNING, "agents.readiness_watchdog")
    verdicts = [dog.look(RECOVERING, False, t) for t in (0.0, 30.0, 60.0, 90.0, 239.0)]
    assert verdicts == [Verdict.WAIT, Verdict.WAIT, Verdict.WARN, Verdict.WAIT, Verdict.WAIT]
    assert not given_up
    [warning] = caplog.messages
    assert "not ready for 60 s" in warning and "tables: table recovery not finished" in warning
    assert dog.look(RECOVERING, False, 240.0) is Verdict.GIVE_UP
    assert given_up == [("tables: table recovery not finished", 240.0)]


def test_a_worker_whose_broker_never_answered_is_given_up_on() -> None:
    dog, given_up = watchdog()
    assert dog.look(NEVER_ANSWERED, False, 0.0) is Verdict.WAIT
    assert dog.look(NEVER_ANSWERED, False, 240.0) is Verdict.GIVE_UP
    [(waiting_on, _)] = given_up
    assert "kafka: the broker has not answered yet" in waiting_on


def test_ready_again_clears_the_clock(caplog: pytest.LogCaptureFixture) -> None:
    dog, given_up = watchdog()
    caplog.set_level(logging.WARNING, "agents.readiness_watchdog")
    dog.look(RECOVERING, False, 0.0)
    dog.look(RECOVERING, False, 70.0)
    assert dog.look(READY, False, 80.0) is Verdict.RECOVERED
    assert caplog.messages[-1] == "ready again after 80 s"
    assert dog.look(READY, False, 90.0) is Verdict.READY
    # A new spell of unreadiness counts from its own start.
    assert dog.look(RECOVERING, False, 100.0) is Verdict.WAIT
    assert dog.look(RECOVERING, False, 339.0) is Verdict.WARN
    assert not given_up


def test_a_broker_fallen_silent_is_waited_out() -> None:
    dog, given_up = watchdog()
    dog.look(RECOVERING, False, 0.0)
    for t in range(10, 1000, 10):
        assert dog.look(BROKER_SILENT, True, float(t)) is Verdict.WAIT
    # Once the broker answers, the worker's own unreadiness counts from then.
    assert dog.look(RECOVERING, False, 1000.0) is Verdict.WAIT
    assert dog.look(RECOVERING, False, 1239.0) is Verdict.WARN
    assert dog.look(RECOVERING, False, 1240.0) is Verdict.GIVE_UP
    assert len(given_up) == 1
