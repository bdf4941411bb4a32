"""Job agent: the single writer of each job's events.

For each inbox message it loads the job's state from the jobs table, decides (a pure
function), numbers and appends the resulting events to export.events, writes the new
state back, and performs the reactions (agents/job_reactions.py).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import faust

from agents.app import (
    app,
    completion_context,
    events_topic,
    export_store,
    job_inbox_topic,
    jobs_table,
    settings,
)
from agents.dead_letters import dead_letter
from agents.job_reactions import discard_late_files, react
from agents.sending import send_acked
from agents.skipped_messages import handled
from domain import inbox
from domain.decisions import decide, record
from domain.job import JobState
from events import codec
from events import models as ev
from extraction.manifest import build_manifest, write_manifest

log = logging.getLogger(__name__)


@app.agent(job_inbox_topic)
async def job_agent(stream: faust.StreamT[bytes]) -> None:
    async for key, value in stream.items():
        handled(stream)
        try:
            message = inbox.decode_inbox(value)
        except ValueError as exc:
            await dead_letter(settings.job_inbox_topic, key, value, f"not an inbox message: {exc}")
            continue
        try:
            await handle_inbox_message(message)
        except Exception as exc:  # one bad message must not stop the agent
            log.exception("inbox message on key %r could not be handled", key)
            reason = f"internal error while handling the message: {exc!r}"
            await dead_letter(settings.job_inbox_topic, key, value, reason)


def load_state(job_id: str) -> JobState | None:
    stored = jobs_table.get(job_id.encode())
    return JobState.model_validate_json(stored) if stored else None


async def handle_inbox_message(message: inbox.InboxMessage) -> None:
    state = load_state(message.job_id)
    if state is not None and isinstance(message, inbox.ChunkDone):
        await discard_late_files(state, message)
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
    if any(isinstance(e, ev.ExportCompleted) for e in events) and new_state.output_path:
        # Stored before ExportCompleted is sent, so a completed export always has it.
        await _store_manifest(new_state, now)
    for event in events:
        await send_acked(events_topic, message.job_id, codec.encode(event))
    jobs_table[message.job_id.encode()] = new_state.model_dump_json().encode()
    for event in events:
        await react(new_state, event)


async def _store_manifest(state: JobState, now: datetime) -> None:
    assert state.output_path is not None
    folder = export_store.working_dir(state.output_path, state.tenant_id, state.job_id)
    written = write_manifest(folder, build_manifest(state, now))
    await asyncio.to_thread(export_store.keep, written, state.output_path)
