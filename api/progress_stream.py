"""A job's progress as server-sent events: one event per change, ending with its final state.

The stream starts from the read model's folded state and then folds the job's own events as
the feed (api/job_feed.py) hands them over, so each event the worker appends reaches the
client at once and the database is read once, not in a loop. If the feed is quiet for a
while, the read model is looked at again, so a missed event cannot hold the stream open.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from api.job_feed import JobFeed
from api.job_json import state_json
from api.jobs_repository import JobsRepository, StoredState
from domain import delivery
from domain.job import FoldError, JobState, apply, is_duplicate
from events.models import JobEvent

KEEPALIVE_SECONDS = 15.0


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


async def progress_events(
    feed: JobFeed,
    jobs: JobsRepository,
    tenant_id: str,
    job_id: str,
    keepalive_seconds: float = KEEPALIVE_SECONDS,
) -> AsyncIterator[str]:
    # Follow first, then read: an event appended in between is in the queue or the recent list.
    queue, recent = feed.follow(job_id)
    try:
        stored = await jobs.state(tenant_id, job_id)
        if stored is None:
            return
        stream = _Stream(stored)
        for event in sorted(recent, key=lambda e: e.envelope.sequence):
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
