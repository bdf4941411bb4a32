"""Job agent: the single writer of each job's events.

For each inbox message it loads the job's state from the jobs table, decides (a pure
function), numbers and appends the resulting events to export.events, writes the new
state back, and performs the reactions: chunk tasks when a job is accepted, the public
completion notice when it ends.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import faust

from agents.app import (
    app,
    completion_context,
    completions_topic,
    deliveries_topic,
    events_topic,
    export_store,
    job_inbox_topic,
    jobs_table,
    tasks_topic,
)
from agents.sending import send_acked
from domain import delivery, inbox
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
    if any(isinstance(e, ev.ExportCompleted) for e in events) and new_state.output_path:
        # Stored before ExportCompleted is sent, so a completed export always has it.
        await _store_manifest(new_state, now)
    for event in events:
        await send_acked(events_topic, message.job_id, codec.encode(event))
    jobs_table[message.job_id.encode()] = new_state.model_dump_json().encode()
    for event in events:
        await _react(new_state, event)


async def _store_manifest(state: JobState, now: datetime) -> None:
    assert state.output_path is not None
    folder = export_store.working_dir(state.output_path, state.tenant_id, state.job_id)
    written = write_manifest(folder, build_manifest(state, now))
    await asyncio.to_thread(export_store.keep, written, state.output_path)


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
                output_location=event.output_location,
            )
            # Keyed by job and chunk, so the chunks of one job spread over workers.
            key = f"{state.job_id}:{chunk.index}"
            await send_acked(tasks_topic, key, task.model_dump_json().encode())
    if _ends_job(event) and state.delivery_status == delivery.PENDING:
        await _send_delivery(state, attempt=1, not_before=event.envelope.occurred_at)
    if isinstance(event, ev.DeliveryFailed) and event.next_attempt_at is not None:
        await _send_delivery(state, attempt=event.attempt + 1, not_before=event.next_attempt_at)
    # The public notice goes out once per job: when it ends, or, if it is being delivered,
    # when delivery has settled.
    settled = _ends_job(event) or isinstance(event, ev.ExportDelivered | ev.DeliveryFailed)
    if settled and state.is_terminal and state.delivery_status != delivery.PENDING:
        notice = completion_notice(state, event.envelope.occurred_at)
        await send_acked(completions_topic, state.job_id, codec.encode(notice))


def _ends_job(event: ev.JobEvent) -> bool:
    return isinstance(
        event, ev.ExportCompleted | ev.ExportFailed | ev.ExportCancelled | ev.ExportRejected
    )


async def _send_delivery(state: JobState, attempt: int, not_before: datetime) -> None:
    task = inbox.DeliverExport(
        job_id=state.job_id,
        tenant_id=state.tenant_id,
        user_id=state.user_id,
        request=state.request,
        attempt=attempt,
        not_before=not_before,
        outcome=state.status,
        files=state.files if state.status is ExportStatus.COMPLETED else [],
        output_location=state.output_path or state.output_location,
        download_url=state.download_url,
        expires_at=state.expires_at,
        error_message=state.error_message,
    )
    await send_acked(deliveries_topic, state.job_id, task.model_dump_json().encode())
