"""What follows from a job's new events, besides the log itself: work to hand out (chunk tasks,
delivery attempts), signals (stop, quota settlement, the public notice) and cleanup of files.

Each reaction is safe to repeat: a job agent that crashes after appending events but before
reacting reacts again when the message is redelivered. Messages are returned for the runner
to send; files are deleted here, which is as safe to repeat.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from agents.runner import Send
from config.settings import Settings
from domain import delivery, inbox
from domain.job import JobState
from domain.schedule_inbox import NOTHING_NEW, RunEnded, encode_schedule_message
from events.notices import completion_notice
from export_contract import codec
from export_contract import models as ev
from export_contract.request import ExportStatus
from export_contract.schedule import RunStatus
from observability.metrics import EXPORTS_FINISHED
from stores.export_store import ExportStore

log = logging.getLogger(__name__)

ENDS_JOB = (ev.ExportCompleted, ev.ExportFailed, ev.ExportCancelled, ev.ExportRejected)


async def react(
    state: JobState, event: ev.JobEvent, settings: Settings, store: ExportStore
) -> list[Send]:
    sends: list[Send] = []
    if isinstance(event, ev.ExportAccepted):
        sends += _tasks(state, event, settings)
    if isinstance(event, ENDS_JOB):
        EXPORTS_FINISHED.labels(state.status.value).inc()
    if isinstance(event, ev.ExportCompleted | ev.ExportFailed | ev.ExportCancelled) and (
        state.chunks
    ):
        sends.append(_quota_settlement(state, event, settings))
    if isinstance(event, ev.ExportFailed | ev.ExportCancelled) and state.chunks:
        stop = inbox.StopJob(job_id=state.job_id, status=state.status, reason=event.reason)
        sends.append(Send(settings.stops_topic, state.job_id, stop.model_dump_json().encode()))
        await _delete_files(state, store)
    if isinstance(event, ev.ExportExpired):
        await _delete_files(state, store)
    if isinstance(event, ENDS_JOB) and state.delivery_status == delivery.PENDING:
        sends.append(_delivery(state, 1, event.envelope.occurred_at, settings))
    if isinstance(event, ev.DeliveryFailed) and event.next_attempt_at is not None:
        sends.append(_delivery(state, event.attempt + 1, event.next_attempt_at, settings))
    # The public notice goes out once per job: when it ends, or, if it is being delivered,
    # when delivery has settled.
    settled = isinstance(event, (*ENDS_JOB, ev.ExportDelivered, ev.DeliveryFailed))
    if settled and state.is_terminal and state.delivery_status != delivery.PENDING:
        notice = completion_notice(state, event.envelope.occurred_at)
        sends.append(Send(settings.completions_topic, state.job_id, codec.encode(notice)))
        if state.schedule is not None:
            sends.append(_run_ended(state, state.schedule, settings))
    return sends


def _run_ended(state: JobState, run: ev.ScheduledRun, settings: Settings) -> Send:
    """A schedule's run settled: completed only when its files reached their destination
    too, since an incremental schedule's mark moves only past rows that were delivered."""
    delivered = state.delivery_status != delivery.FAILED
    status = RunStatus.FAILED
    if state.status is ExportStatus.COMPLETED and delivered:
        status = RunStatus.COMPLETED
    elif state.error_code == NOTHING_NEW:
        status = RunStatus.SKIPPED
    reason = state.error_message if status is not RunStatus.COMPLETED else None
    if status is RunStatus.FAILED and not reason:
        reason = state.delivery_error or state.status.value.lower()
    message = RunEnded(
        schedule_id=run.schedule_id,
        message_id=f"run-ended:{state.job_id}",
        job_id=state.job_id,
        status=status,
        rows=state.total_rows or 0,
        key_through=state.high_water_mark,
        reason=reason,
    )
    return Send(settings.schedule_inbox_topic, run.schedule_id, encode_schedule_message(message))


async def discard_late_files(state: JobState, message: inbox.ChunkDone, store: ExportStore) -> None:
    """A chunk that finished after its job was cancelled or failed: its files are not wanted."""
    if state.status in (ExportStatus.CANCELLED, ExportStatus.FAILED, ExportStatus.EXPIRED):
        for file in message.files:
            await asyncio.to_thread(store.delete, file.path)


def _tasks(state: JobState, event: ev.ExportAccepted, settings: Settings) -> list[Send]:
    sends = []
    for chunk in event.chunks:
        task = inbox.ExtractChunk(
            job_id=state.job_id,
            tenant_id=state.tenant_id,
            user_id=state.user_id,
            request=state.request,
            chunk=chunk,
            chunk_count=len(event.chunks),
            high_water_mark=event.high_water_mark,
            key_above=state.key_above,
            output_location=event.output_location,
            max_export_bytes=event.max_export_bytes,
        )
        # Keyed by job and chunk, so the chunks of one job spread over workers.
        key = f"{state.job_id}:{chunk.index}"
        sends.append(Send(settings.tasks_topic, key, task.model_dump_json().encode()))
    return sends


def _quota_settlement(state: JobState, event: ev.JobEvent, settings: Settings) -> Send:
    completed = isinstance(event, ev.ExportCompleted)
    settlement = inbox.QuotaSettlement(
        tenant_id=state.tenant_id,
        user_id=state.user_id,
        job_id=state.job_id,
        completed_rows=state.total_rows if completed else None,
        occurred_at=event.envelope.occurred_at,
    )
    key = f"{state.tenant_id}:{state.user_id}"
    return Send(settings.quota_inbox_topic, key, settlement.model_dump_json().encode())


async def _delete_files(state: JobState, store: ExportStore) -> None:
    location = state.output_path or state.output_location
    if not location:
        return
    removed = await asyncio.to_thread(store.delete_job, location)
    log.info("job %s (%s): %d stored files deleted", state.job_id, state.status.value, removed)


def _delivery(state: JobState, attempt: int, not_before: datetime, settings: Settings) -> Send:
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
        notice=completion_notice(state, state.completed_at or not_before),
    )
    return Send(settings.deliveries_topic, state.job_id, task.model_dump_json().encode())
