"""Job agent: the single writer of each job's events.

For each inbox message it loads the job's state from the jobs table, decides (a pure
function), numbers and appends the resulting events to export.events, writes the new
state back, and performs the reactions: chunk tasks when a job is accepted, the public
completion notice when it ends.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import faust

from agents.app import (
    app,
    completion_context,
    completions_topic,
    events_topic,
    job_inbox_topic,
    jobs_table,
    tasks_topic,
)
from agents.sending import send_acked
from domain import inbox
from domain.decisions import decide, record
from domain.job import JobState
from domain.request import ExportStatus
from events import codec
from events import models as ev
from events.notices import completion_notice
from extraction.manifest import build_manifest, write_manifest

log = logging.getLogger(__name__)


@app.agent(job_inbox_topic)
async def job_agent(stream: faust.StreamT[bytes]) -> None:
    async for key, value in stream.items():
        try:
            await handle_inbox_message(value)
        except Exception:  # one bad message must not stop the agent
            log.exception("inbox message on key %r could not be handled", key)


def load_state(job_id: str) -> JobState | None:
    stored = jobs_table.get(job_id.encode())
    return JobState.model_validate_json(stored) if stored else None


async def handle_inbox_message(value: bytes) -> None:
    message = inbox.decode_inbox(value)
    state = load_state(message.job_id)
    now = datetime.now(UTC)
    drafts = decide(state, message, completion_context, now)
    if not drafts:
        return
    if state is not None:
        owner = (state.tenant_id, state.user_id)
    elif isinstance(message, inbox.OpenJob):
        owner = (message.tenant_id, message.user_id)
    else:
        return
    new_state, events = record(state, drafts, owner, message.job_id, message.message_id, now)
    assert new_state is not None
    if new_state.status is ExportStatus.COMPLETED and new_state.output_path:
        # Written before ExportCompleted is sent, so a completed export always has it.
        write_manifest(Path(new_state.output_path), build_manifest(new_state, now))
    for event in events:
        await send_acked(events_topic, message.job_id, codec.encode(event))
    jobs_table[message.job_id.encode()] = new_state.model_dump_json().encode()
    for event in events:
        await _react(new_state, event)


async def _react(state: JobState, event: ev.JobEvent) -> None:
    if isinstance(event, ev.ExportAccepted):
        for chunk in event.chunks:
            task = inbox.ExtractChunk(
                job_id=state.job_id,
                tenant_id=state.tenant_id,
                user_id=state.user_id,
                request=state.request,
                chunk=chunk,
                high_water_mark=event.high_water_mark,
            )
            # Keyed by job and chunk, so the chunks of one job spread over workers.
            key = f"{state.job_id}:{chunk.index}"
            await send_acked(tasks_topic, key, task.model_dump_json().encode())
    if state.is_terminal:
        notice = completion_notice(state, event.envelope.occurred_at)
        await send_acked(completions_topic, state.job_id, codec.encode(notice))
