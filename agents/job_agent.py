"""Job handler: the single writer of each job's events.

For each inbox message it loads the job's state from the jobs table, decides (a pure
function), numbers the resulting events, and returns, in this order: the events for
export.events, what follows from the events (agents/job_reactions.py), and the new state for
the table. The runner sends each one acknowledged before the next, so the table never runs
ahead of the log or of the reactions: a message handled again after a crash decides and
reacts again (the reactions are safe to repeat), until its state is stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime

from agents.job_reactions import discard_late_files, react
from agents.runner import Effect, Put, Received, Send, Undecodable
from config.settings import Settings
from domain import inbox
from domain.decisions import CompletionContext, decide, record
from domain.job import JobState
from export_contract import codec
from export_contract import models as ev
from extraction.manifest import build_manifest, write_manifest
from observability.logs import log_context
from stores.export_store import ExportStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobCollaborators:
    settings: Settings
    jobs: MutableMapping[bytes, bytes]
    store: ExportStore
    completion: CompletionContext


async def handle_inbox(received: Received, c: JobCollaborators) -> list[Effect]:
    try:
        message = inbox.decode_inbox(received.value)
    except ValueError as exc:
        raise Undecodable(f"not an inbox message: {exc}") from exc
    with log_context(job_id=message.job_id):
        return await handle_inbox_message(message, c, datetime.now(UTC))


def load_state(jobs: MutableMapping[bytes, bytes], job_id: str) -> JobState | None:
    stored = jobs.get(job_id.encode())
    return JobState.model_validate_json(stored) if stored else None


async def handle_inbox_message(
    message: inbox.InboxMessage, c: JobCollaborators, now: datetime
) -> list[Effect]:
    state = load_state(c.jobs, message.job_id)
    if state is not None and isinstance(message, inbox.ChunkDone):
        await discard_late_files(state, message, c.store)
    drafts = decide(state, message, c.completion, now)
    if not drafts:
        return []
    if state is not None:
        owner = (state.tenant_id, state.user_id)
    elif isinstance(message, inbox.OpenJob):
        owner = (message.tenant_id, message.user_id)
    else:
        return []
    new_state, events = record(state, drafts, owner, message.job_id, message.message_id, now)
    assert new_state is not None
    if any(isinstance(e, ev.ExportCompleted) for e in events) and new_state.output_path:
        # Stored before ExportCompleted is sent, so a completed export always has it.
        await _store_manifest(new_state, now, c.store)
    effects: list[Effect] = [
        Send(c.settings.events_topic, message.job_id, codec.encode(event)) for event in events
    ]
    for event in events:
        with log_context(tenant_id=new_state.tenant_id, event_type=type(event).__name__):
            if not isinstance(event, ev.ExportProgressed):
                log.info("job %s: %s", message.job_id, type(event).__name__)
            effects += await react(new_state, event, c.settings, c.store)
    # The state last: once it is stored, a message handled again decides (and so reacts)
    # nothing, so every reaction must be out before it.
    effects.append(Put(c.jobs, message.job_id.encode(), new_state.model_dump_json().encode()))
    return effects


async def _store_manifest(state: JobState, now: datetime, store: ExportStore) -> None:
    assert state.output_path is not None
    folder = store.working_dir(state.output_path, state.tenant_id, state.job_id)
    written = write_manifest(folder, build_manifest(state, now))
    await asyncio.to_thread(store.keep, written, state.output_path)
