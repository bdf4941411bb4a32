"""The export_jobs and export_files read model: one upsert per event, idempotent by sequence.

Each job's row keeps the folded state and the last sequence applied, in the same
transaction as the columns, so a replayed event is recognised and skipped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from domain.job import JobState, apply, is_duplicate
from export_contract import models as ev

log = logging.getLogger(__name__)
# The shape of every projection (jobs', schedules'): applies one event in one transaction,
# and answers False when the event was applied before.
Projection = Callable[[AsyncConnection[Any], Any], Awaitable[bool]]

UPSERT_JOB = """
INSERT INTO export_service.export_jobs (
    id, tenant_id, name, description, query_definition, format, format_options, status,
    delivery, requested_by, requested_at, started_at, completed_at, processed_rows, total_rows,
    progress_percent, progressed_at, output_path, file_size_bytes, file_count, download_url,
    expires_at, error_message, error_code, delivery_status, delivery_attempts, delivery_error,
    delivered_to, delivered_at, updated_at, last_sequence, job_state)
VALUES (
    %(id)s, %(tenant_id)s, %(name)s, %(description)s, %(query_definition)s, %(format)s,
    %(format_options)s, %(status)s, %(delivery)s, %(requested_by)s, %(requested_at)s,
    %(started_at)s, %(completed_at)s, %(processed_rows)s, %(total_rows)s, %(progress_percent)s,
    %(progressed_at)s, %(output_path)s, %(file_size_bytes)s, %(file_count)s, %(download_url)s,
    %(expires_at)s,
    %(error_message)s, %(error_code)s, %(delivery_status)s, %(delivery_attempts)s,
    %(delivery_error)s, %(delivered_to)s, %(delivered_at)s, now(), %(last_sequence)s,
    %(job_state)s)
ON CONFLICT (id) DO UPDATE SET
    status = excluded.status, started_at = excluded.started_at,
    completed_at = excluded.completed_at, processed_rows = excluded.processed_rows,
    total_rows = excluded.total_rows, progress_percent = excluded.progress_percent,
    progressed_at = excluded.progressed_at,
    output_path = excluded.output_path, file_size_bytes = excluded.file_size_bytes,
    file_count = excluded.file_count, download_url = excluded.download_url,
    expires_at = excluded.expires_at, error_message = excluded.error_message,
    error_code = excluded.error_code, delivery_status = excluded.delivery_status,
    delivery_attempts = excluded.delivery_attempts, delivery_error = excluded.delivery_error,
    delivered_to = excluded.delivered_to, delivered_at = excluded.delivered_at, updated_at = now(),
    last_sequence = excluded.last_sequence, job_state = excluded.job_state
"""

UPSERT_FILE = """
INSERT INTO export_service.export_files
    (job_id, chunk_index, part, file_name, path, row_count, byte_count, sha256)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (job_id, chunk_index, part) DO UPDATE SET
    file_name = excluded.file_name, path = excluded.path, row_count = excluded.row_count,
    byte_count = excluded.byte_count, sha256 = excluded.sha256
"""


INSERT_EVENT = """
INSERT INTO export_service.job_events (job_id, sequence, event_type, occurred_at, event)
VALUES (%s, %s, %s, %s, %s) ON CONFLICT (job_id, sequence) DO NOTHING
"""


async def project(conn: AsyncConnection, event: ev.JobEvent) -> bool:
    """Apply one event to the read model; False when it was already applied."""
    job_id = event.envelope.job_id
    async with conn.transaction():
        cursor = await conn.execute(
            "SELECT job_state FROM export_service.export_jobs WHERE id = %s FOR UPDATE", [job_id]
        )
        row = await cursor.fetchone()
        state = JobState.model_validate(row[0]) if row else None
        if is_duplicate(state, event):
            return False
        if state is None and not isinstance(event, ev.ExportRequested):
            log.warning("skipping %s for unknown job %s", type(event).__name__, job_id)
            return False
        state = apply(state, event)
        await conn.execute(UPSERT_JOB, job_row(state))
        await conn.execute(
            INSERT_EVENT,
            [
                job_id,
                event.envelope.sequence,
                type(event).__name__,
                event.envelope.occurred_at,
                _jsonb(json.loads(event.model_dump_json(by_alias=True))),
            ],
        )
        if isinstance(event, ev.ChunkExtracted):
            f = event.file
            await conn.execute(
                UPSERT_FILE,
                [job_id, f.chunk_index, f.part, f.name, f.path, f.rows, f.bytes, f.sha256],
            )
    return True


def job_row(state: JobState) -> dict[str, object]:
    request = state.request
    has_files = state.status.value == "COMPLETED"
    return {
        "id": state.job_id,
        "tenant_id": state.tenant_id,
        "name": _text(request.name),
        "description": _text(request.description),
        "query_definition": _jsonb(request.query_definition.model_dump(mode="json", by_alias=True)),
        "format": request.format.value,
        "format_options": _json_or_none(request.format_options),
        "status": state.status.value,
        "delivery": _json_or_none(request.delivery),
        "requested_by": state.user_id,
        "requested_at": state.requested_at,
        "started_at": state.started_at,
        "completed_at": state.completed_at,
        "processed_rows": state.processed_rows,
        "total_rows": state.total_rows,
        "progress_percent": state.progress_percent,
        "progressed_at": state.progressed_at,
        "output_path": state.output_path,
        "file_size_bytes": state.total_bytes if has_files else None,
        "file_count": len(state.files) if has_files else None,
        "download_url": state.download_url,
        "expires_at": state.expires_at,
        "error_message": state.error_message,
        "error_code": state.error_code,
        "delivery_status": state.delivery_status,
        "delivery_attempts": state.delivery_attempts,
        "delivery_error": state.delivery_error,
        "delivered_to": state.delivered_to,
        "delivered_at": state.delivered_at,
        "last_sequence": state.sequence,
        "job_state": _jsonb(json.loads(state.model_dump_json())),
    }


def _json_or_none(model: object) -> Jsonb | None:
    if model is None:
        return None
    return _jsonb(model.model_dump(mode="json", by_alias=True, exclude_none=True))  # type: ignore[attr-defined]


# PostgreSQL text and jsonb cannot hold NUL, which a (rejected) request may carry: the read
# model shows it as the six characters \u0000 rather than lose the job.
def _jsonb(value: object) -> Jsonb:
    return Jsonb(_without_nul(value))


def _text(value: str | None) -> str | None:
    return value.replace("\x00", "\\u0000") if value is not None else None


def _without_nul(value: object) -> object:
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value
