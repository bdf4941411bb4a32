"""Extractor: extracts one planned chunk per task and reports to the job agent.

Tasks come from plain Kafka consumers (agents/task_consumers.py), two per worker, which
commit a task only once it is done. The COPY runs in a thread so the worker's event loop
(and every agent on it) keeps running; progress reports cross back to the loop with
run_coroutine_threadsafe.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from uuid import uuid4

import adbc_driver_manager as adbc_errors
import psycopg

from agents.runner import Received, Report, Send, Undecodable
from config.bootstrap import Collaborators
from domain import inbox
from domain.decisions import too_large
from export_contract.models import ExportFile
from export_contract.request import ExportFormat
from extraction.extract import extract_chunk
from extraction.part_series import ExtractedFile
from extraction.progress import ExtractionStopped, ProgressPolicy, StopCheck
from extraction.store import job_dir
from observability.logs import log_context
from observability.metrics import CHUNK_DURATION, ROWS_EXTRACTED

log = logging.getLogger(__name__)

# Two chunks at a time: PostgreSQL's COPY, not Python, is the bound, and two backends use
# both cores of a small machine.
CHUNKS_AT_ONCE = 2

# A chunk whose database connection fails is extracted again from its start, after 2, 4, 8 s:
# enough to ride out a restart of PostgreSQL, short enough that a job never hangs.
CHUNK_ATTEMPTS = 4
CHUNK_RETRY_SECONDS = 2.0
DATABASE_FAILURES = (psycopg.OperationalError, adbc_errors.OperationalError)


def is_database_failure(exc: BaseException) -> bool:
    """A lost connection: psycopg's and ADBC's OperationalError, and what ADBC raises when the
    connection goes while Arrow batches stream, a plain OSError that names libpq."""
    if isinstance(exc, DATABASE_FAILURES):
        return True
    return type(exc) is OSError and str(exc).startswith("[libpq]")


class SourceUnavailable(Exception):
    """The database kept failing for this chunk beyond its retry budget."""


class Extractor:
    """Runs chunk tasks: one call per task, start to end, reporting to the job's inbox."""

    def __init__(self, c: Collaborators, report: Report) -> None:
        self._c = c
        self._settings = c.settings
        self._send = report
        # A Parquet chunk holds Arrow batches and a row group being encoded, some 100 MB
        # (measured), so a worker runs one at a time and stays under 300 MB. CSV and JSON
        # chunks need one 1 MiB buffer and run two at a time.
        self._parquet_at_once = asyncio.Semaphore(1)

    async def __call__(self, received: Received) -> None:
        """One chunk task. A failure of the chunk is reported to its job, not raised; only a
        failure to report (the broker unreachable) escapes, and the task is taken again."""
        try:
            task = inbox.ExtractChunk.model_validate_json(received.value)
        except ValueError as exc:
            raise Undecodable(f"not a chunk task: {exc}") from exc
        with log_context(job_id=task.job_id, tenant_id=task.tenant_id, chunk=task.chunk.index):
            await self._run_reported(task)

    async def _run_reported(self, task: inbox.ExtractChunk) -> None:
        try:
            await self.run_task(task)
        except ExtractionStopped as exc:
            await self._stopped(task, exc)
        except Exception as exc:  # report the failure, keep the consumer
            if self._ended(task) is not None:
                # Cancelled or failed while the chunk ran: its files were deleted under it.
                log.info(
                    "job %s chunk %d: the job ended while the chunk ran (%s: %s)",
                    task.job_id,
                    task.chunk.index,
                    type(exc).__name__,
                    exc,
                )
                return
            log.exception("chunk %d of job %s failed", task.chunk.index, task.job_id)
            unavailable = isinstance(exc, SourceUnavailable)
            await self._report(
                inbox.ChunkFailed(
                    job_id=task.job_id,
                    message_id=str(uuid4()),
                    chunk_index=task.chunk.index,
                    code="SOURCE_UNAVAILABLE" if unavailable else "EXTRACTION_FAILED",
                    reason=str(exc) if unavailable else f"{type(exc).__name__}: {exc}",
                )
            )

    def _ended(self, task: inbox.ExtractChunk) -> inbox.StopJob | None:
        return self._c.stop_signals.get(task.job_id)

    def _stop_check(self, task: inbox.ExtractChunk) -> StopCheck:
        limit = task.max_export_bytes

        def check(stored_bytes: int) -> str | None:
            stop = self._ended(task)
            if stop is not None:
                return f"the job ended ({stop.status.value}): {stop.reason}"
            if limit is not None and stored_bytes > limit:
                return too_large(limit, stored_bytes)["reason"]
            return None

        return check

    async def _stopped(self, task: inbox.ExtractChunk, exc: ExtractionStopped) -> None:
        """A chunk that stopped for its job's end reports nothing; one that passed the size
        limit fails its job with the limit in the reason."""
        log.info("job %s chunk %d stopped: %s", task.job_id, task.chunk.index, exc.reason)
        if self._ended(task) is None:
            await self._report(
                inbox.ChunkFailed(
                    job_id=task.job_id,
                    message_id=str(uuid4()),
                    chunk_index=task.chunk.index,
                    code="EXPORT_TOO_LARGE",
                    reason=exc.reason,
                )
            )

    async def run_task(self, task: inbox.ExtractChunk) -> None:
        chunk = task.chunk
        settings, store = self._settings, self._c.store
        if self._ended(task) is not None:
            log.info("job %s ended: chunk %d not started", task.job_id, chunk.index)
            return
        started = time.monotonic()
        await self._report(
            inbox.ChunkStarted(job_id=task.job_id, message_id=str(uuid4()), chunk_index=chunk.index)
        )
        loop = asyncio.get_running_loop()
        # Tasks from before stores were configurable name no location: the local store.
        location = task.output_location or str(
            job_dir(settings.store_dir, task.tenant_id, task.job_id)
        )

        def on_progress(rows: int) -> None:
            message = inbox.ChunkProgress(
                job_id=task.job_id, message_id=str(uuid4()), chunk_index=chunk.index, rows=rows
            )
            asyncio.run_coroutine_threadsafe(self._report(message), loop)

        def extract() -> list[ExtractedFile]:
            return extract_chunk(
                settings.reader_database_url,
                task.tenant_id,
                task.request,
                task.key_above,
                chunk,
                store.working_dir(location, task.tenant_id, task.job_id),
                on_progress,
                ProgressPolicy(
                    settings.progress_every_rows,
                    settings.progress_every_seconds,
                    self._stop_check(task),
                ),
                job_id=task.job_id,
                chunks_in_export=task.chunk_count,
                streams=settings.streams,
            )

        if task.request.format is ExportFormat.PARQUET:
            async with self._parquet_at_once:
                extracted = await self._with_retries(task, extract)
        else:
            extracted = await self._with_retries(task, extract)
        # For the S3 store: upload each finished file (multipart, from disk), then drop it.
        kept = [await asyncio.to_thread(store.keep, done.path, location) for done in extracted]
        files = [
            ExportFile(
                chunk_index=chunk.index,
                part=part,
                name=done.path.name,
                path=path,
                rows=done.rows,
                bytes=done.bytes,
                sha256=done.sha256,
                notes=list(done.notes),
            )
            for part, (done, path) in enumerate(zip(extracted, kept, strict=True), start=1)
        ]
        await self._report(
            inbox.ChunkDone(
                job_id=task.job_id, message_id=str(uuid4()), chunk_index=chunk.index, files=files
            )
        )
        rows = sum(f.rows for f in files)
        export_format = task.request.format.value
        ROWS_EXTRACTED.labels(export_format).inc(rows)
        CHUNK_DURATION.labels(export_format).observe(time.monotonic() - started)
        log.info("job %s chunk %d: %d rows in %d files", task.job_id, chunk.index, rows, len(files))

    async def _with_retries(
        self, task: inbox.ExtractChunk, extract: Callable[[], list[ExtractedFile]]
    ) -> list[ExtractedFile]:
        """Run the extraction, again from the start of the chunk after a database failure (a
        dropped connection, a terminated backend, a restart): the chunk's files are written
        whole or not at all, and progress reported again is never taken as going backwards."""
        for attempt in range(1, CHUNK_ATTEMPTS + 1):
            try:
                return await asyncio.to_thread(extract)
            except Exception as exc:
                if not is_database_failure(exc):
                    raise
                if attempt == CHUNK_ATTEMPTS:
                    raise SourceUnavailable(
                        f"the database failed {attempt} times; last: {type(exc).__name__}: {exc}"
                    ) from exc
                wait = CHUNK_RETRY_SECONDS * 2 ** (attempt - 1)
                log.warning(
                    "job %s chunk %d: database failure (%s); attempt %d in %.0f s",
                    task.job_id,
                    task.chunk.index,
                    exc,
                    attempt + 1,
                    wait,
                )
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    async def _report(self, message: inbox.InboxMessage) -> None:
        topic = self._settings.job_inbox_topic
        await self._send([Send(topic, message.job_id, inbox.encode_inbox(message))])
