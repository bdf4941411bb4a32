"""A worker's consumer state on demand: `kill -USR1 <worker pid>` writes it to the worker's log.

For stalls that leave no error behind, such as a consumer that stops fetching after a
rebalance: what is assigned, what is paused (by Faust and by aiokafka), where each partition
was last read and committed, how many messages are in flight, and (mode's own SIGUSR1 dump)
every thread's and task's stack.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import Any

from faust.types import AppT
from mode.utils.logging import cry

log = logging.getLogger(__name__)


def consumer_state(app: AppT) -> str:
    """The consumer's own bookkeeping, read from Faust's (private) attributes: best effort."""
    consumer: Any = app.consumer
    lines = [f"flow active: {consumer.flow_active}, app flow: {app.flow_control.is_active()}"]
    lines.append(f"messages in flight (unacked): {len(consumer._unacked_messages)}")
    paused = consumer._paused_partitions
    try:
        driver_paused = consumer._thread._ensure_consumer().paused()
    except Exception as exc:  # the driver may be between rebalances
        driver_paused = f"unknown ({exc})"
    lines.append(f"paused by faust: {sorted(paused)}; by aiokafka: {driver_paused}")
    for tp in sorted(consumer.assignment()):
        if tp.topic.startswith("export-service-"):
            continue  # changelog and assignor topics: their state is Recovery's
        lines.append(
            f"  {tp.topic}[{tp.partition}]: read {consumer._read_offset.get(tp)},"
            f" committed {consumer._committed_offset.get(tp)},"
            f" highwater {consumer.highwater(tp)}"
        )
    return "\n".join(lines)


def awaiting_chains() -> str:
    """Where every task waits, outermost frame first.

    mode's dump shows a task's top frame only; an agent blocked in an await several calls
    down (a send, a query) shows as `await coro` there. Following each coroutine's
    `cr_await` down to the innermost frame names the call that does not return.
    """
    lines = []
    for task in asyncio.all_tasks():
        frames = []
        awaited: Any = task.get_coro()
        while awaited is not None:
            frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "ag_frame", None)
            if frame is not None:
                frames.append(f"{frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}")
            awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "ag_await", None)
        lines.append(f"{task.get_name()}: " + " -> ".join(frames))
    return "\n".join(sorted(lines))


def dump(app: AppT) -> None:
    try:
        log.warning("consumer state (SIGUSR1):\n%s", consumer_state(app))
        log.warning("tasks awaiting (SIGUSR1):\n%s", awaiting_chains())
    except Exception:
        log.exception("consumer state unavailable")
    cry(file=sys.stderr)


def install_state_dump(app: AppT) -> None:
    """Answer SIGUSR1 with the dump, once the worker's loop runs."""

    @app.task
    async def install() -> None:
        # Replaces mode's own SIGUSR1 handler (its stack dump), which dump() still calls.
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, dump, app)
