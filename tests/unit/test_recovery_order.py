"""After table recovery, stream partitions are sought to their committed offsets before they
are resumed (agents/faust_patches/recovery_order.py); Faust's own order is the reverse."""

from __future__ import annotations

import asyncio
from typing import Any
from unittest.mock import AsyncMock, MagicMock

import pytest
from faust.tables.recovery import Recovery

from agents.faust_patches.recovery_order import SeekThenResumeRecovery

STREAM = ("export.commands", 0)
CHANGELOG = ("export-service-jobs-changelog", 0)


def recovery_double() -> tuple[Any, list[str]]:
    """A stand-in for the Recovery service: an app whose consumer logs what is done to it."""
    calls: list[str] = []
    consumer = MagicMock()
    consumer.assignment.return_value = {STREAM, CHANGELOG}
    consumer.resume_partitions.side_effect = lambda tps: calls.append(f"resume {sorted(tps)}")

    async def seek() -> None:
        calls.append("seek")

    consumer.perform_seek.side_effect = seek
    app = MagicMock()
    app.consumer = consumer
    app.consumer_generation_id = 7
    app.on_rebalance_complete.send = AsyncMock()
    app._fetcher.maybe_start = AsyncMock()
    app.flow_control.resume.side_effect = lambda: calls.append("flow")
    recovery = MagicMock()
    recovery.app = app
    recovery.tables.values.return_value = []
    recovery._is_changelog_tp.side_effect = lambda tp: tp == CHANGELOG
    recovery._wait = lambda coro, timeout=None: coro
    return recovery, calls


def completed(method: Any) -> list[str]:
    recovery, calls = recovery_double()
    asyncio.run(method(recovery, generation_id=7))
    return calls


def test_stream_partitions_are_sought_while_still_paused() -> None:
    assert completed(SeekThenResumeRecovery.on_recovery_completed) == [
        "seek",
        f"resume {[STREAM]}",
        "flow",
    ]


def test_faust_still_resumes_before_it_seeks() -> None:
    """If this fails, Faust has fixed its order and the recovery-order patch can go."""
    calls = completed(Recovery.on_recovery_completed)
    assert calls.index(f"resume {[STREAM]}") < calls.index("seek")


@pytest.mark.parametrize("generation", [6, 8])
def test_a_newer_rebalance_leaves_the_partitions_alone(generation: int) -> None:
    recovery, calls = recovery_double()
    asyncio.run(SeekThenResumeRecovery.on_recovery_completed(recovery, generation_id=generation))
    assert calls == []
