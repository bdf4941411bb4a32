"""A job's progress as server-sent events: one event per change, ending with its final state.

The stream starts from the read model's folded state and then folds the job's own events as
the feed (api/job_feed.py) hands them over, so each event the worker appends reaches the
client at once and the database is read once, not in a loop. If the feed is quiet for a
while, the read model is looked at again, so a missed event cannot hold the stream open.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, NamedTuple

from api.job_feed import JobFeed
from api.job_json import state_json
from api.jobs_repository import JobsRepository, StoredState
from domain import delivery
from domain.job import FoldError, JobState, apply, is_duplicate
from export_contract.models import ExportRequested, JobEvent

KEEPALIVE_SECONDS = 15.0
# How long a job not yet in the read model is awaited on the feed before the answer is 404.
FIRST_EVENT_SECONDS = 10.0


def is_final(state: JobState) -> bool:
    """Nothing more will change for the user: ended, and delivered or given up on."""
    return state.is_terminal and state.delivery_status != delivery.PENDING


def sse(event: str, data: dict[str, Any], event_id: int | None = None) -> str:
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"data: {json.dumps(data, separators=(',', ':'))}")
    return "\n".join(lines) + "\n\n"


class _Stream:
    """The state a stream has shown, and the rows shown so far (they never go back)."""

    def __init__(self, stored: StoredState) -> None:
        self.state = stored.state
        self.created_at = stored.created_at
        self.updated_at = stored.updated_at
        self.rows_shown = 0

    def advance(self, event: JobEvent) -> bool:
        if is_duplicate(self.state, event):
            return False
        try:
            self.state = apply(self.state, event)
        except FoldError:
            return False  # not for this state: the read model, looked at later, decides
        self.updated_at = event.envelope.occurred_at
        return True

    def replace(self, stored: StoredState) -> bool:
        if stored.state.sequence <= self.state.sequence:
            return False
        self.state, self.updated_at = stored.state, stored.updated_at
        return True

    def render(self) -> str:
        data = state_json(self.state, self.created_at, self.updated_at)
        # A chunk redone after a crash reports its rows again from zero; the user has seen
        # them once already, so the count holds until it passes what was shown.
        self.rows_shown = max(self.rows_shown, int(data["processedRows"]))
        data["processedRows"] = self.rows_shown
        name = "done" if is_final(self.state) else "job"
        return sse(name, data, self.state.sequence)


class JustSubmitted:
    """Jobs this API process accepted in the last minute: a stream for one of them may wait
    for its first event, since the read model cannot have it yet. Any other unknown id is
    answered 404 at once (waiting for every id would let anyone hold streams open)."""

    def __init__(self, seconds: float = 60.0) -> None:
        self._seconds = seconds
        self._jobs: dict[str, float] = {}

    def add(self, job_id: str) -> None:
        now = time.monotonic()
        self._jobs = {j: at for j, at in self._jobs.items() if now - at < self._seconds}
        self._jobs[job_id] = now

    def __contains__(self, job_id: object) -> bool:
        at = self._jobs.get(str(job_id))
        return at is not None and time.monotonic() - at < self._seconds


class Opening(NamedTuple):
    """A stream about to start: the feed followed, the state to start from, recent events."""

    queue: asyncio.Queue[JobEvent]
    stored: StoredState
    recent: list[JobEvent]


async def open_stream(
    feed: JobFeed,
    jobs: JobsRepository,
    tenant_id: str,
    job_id: str,
    wait_seconds: float = FIRST_EVENT_SECONDS,
) -> Opening | None:
    """Follow the job and find where to start, or None: not the caller's tenant's job.

    A job submitted a moment ago may not be in the read model yet; its first event, which
    names its tenant, is then awaited on the feed for a few seconds, so a client can follow
    a job from the 202 on.
    """
    # Follow first, then read: an event appended in between is in the queue or the recent list.
    queue, recent = feed.follow(job_id)
    stored = await jobs.state(tenant_id, job_id)
    if stored is None:
        stored = await _first_event(queue, recent, tenant_id, wait_seconds)
    if stored is None:
        feed.unfollow(job_id, queue)
        return None
    return Opening(queue, stored, recent)


async def _first_event(
    queue: asyncio.Queue[JobEvent], recent: list[JobEvent], tenant_id: str, wait_seconds: float
) -> StoredState | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    pending = list(recent)
    while True:
        while pending:
            event = pending.pop(0)
            if isinstance(event, ExportRequested):
                if event.envelope.tenant_id != tenant_id:
                    return None  # another tenant's job is answered as one that does not exist
                at = event.envelope.occurred_at
                return StoredState(apply(None, event), at, at)
        remaining = deadline - loop.time()
        if remaining <= 0:
            return None
        try:
            pending.append(await asyncio.wait_for(queue.get(), remaining))
        except TimeoutError:
            return None


async def progress_events(
    feed: JobFeed,
    jobs: JobsRepository,
    tenant_id: str,
    job_id: str,
    opening: Opening,
    keepalive_seconds: float = KEEPALIVE_SECONDS,
) -> AsyncIterator[str]:
    queue = opening.queue
    try:
        stream = _Stream(opening.stored)
        for event in sorted(opening.recent, key=lambda e: e.envelope.sequence):
            stream.advance(event)
        yield stream.render()
        while not is_final(stream.state):
            try:
                event = await asyncio.wait_for(queue.get(), keepalive_seconds)
                changed = stream.advance(event)
            except TimeoutError:
                latest = await jobs.state(tenant_id, job_id)
                changed = latest is not None and stream.replace(latest)
                if not changed:
                    yield f": keep-alive {datetime.now().isoformat(timespec='seconds')}\n\n"
            if changed:
                yield stream.render()
    finally:
        feed.unfollow(job_id, queue)
