"""Queries of the read model, always scoped to the caller's tenant."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from domain.job import JobState
from domain.quota import QuotaUsage
from export_contract.request import ExportStatus
from projections.quota_usage import load_usage

JOB_COLUMNS = sql.SQL("""
    id, tenant_id, name, description, query_definition, format, format_options, status,
    delivery, requested_by, requested_at, started_at, completed_at, processed_rows, total_rows,
    progress_percent, progressed_at, output_path, file_size_bytes, file_count, download_url,
    expires_at, error_message, error_code, delivery_status, delivery_attempts, delivery_error,
    delivered_to, delivered_at, created_at, updated_at
""")
GET_JOB = sql.SQL(
    "SELECT {} FROM export_service.export_jobs WHERE id = %s AND tenant_id = %s"
).format(JOB_COLUMNS)
GET_STATE = sql.SQL(
    "SELECT job_state, created_at, updated_at FROM export_service.export_jobs"
    " WHERE id = %s AND tenant_id = %s"
)
# The median, not the mean: an export that waited on a busy database or a restarted worker
# says little about the next one.
MEASURED_RATE = """
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY rate) FROM (
        SELECT processed_rows / extract(epoch FROM completed_at - started_at) AS rate
        FROM export_service.export_jobs
        WHERE status = 'COMPLETED' AND format = %s AND processed_rows >= 50000
          AND completed_at > now() - interval '7 days' AND completed_at > started_at
        ORDER BY completed_at DESC LIMIT 50
    ) AS recent
"""
LIST_JOBS = sql.SQL(
    "SELECT {} FROM export_service.export_jobs WHERE {} "
    "ORDER BY requested_at DESC, id LIMIT %(limit)s OFFSET %(offset)s"
)
COUNT_JOBS = sql.SQL("SELECT count(*) AS n FROM export_service.export_jobs WHERE {}")


class StoredState(NamedTuple):
    state: JobState
    created_at: datetime
    updated_at: datetime


class JobsRepository:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def get(self, tenant_id: str, job_id: str) -> dict[str, Any] | None:
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(GET_JOB, [job_id, tenant_id])
            return await cur.fetchone()

    async def state(self, tenant_id: str, job_id: str) -> StoredState | None:
        """The job's folded state as the projection last wrote it, and when."""
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(GET_STATE, [job_id, tenant_id])
            row = await cur.fetchone()
        if row is None:
            return None
        return StoredState(
            JobState.model_validate(row["job_state"]), row["created_at"], row["updated_at"]
        )

    async def list_for_user(
        self, tenant_id: str, user_id: str, status: ExportStatus | None, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        where: sql.Composable = sql.SQL("tenant_id = %(tenant)s AND requested_by = %(user)s")
        if status is not None:
            where = sql.SQL("{} AND status = %(status)s").format(where)
        params = {
            "tenant": tenant_id,
            "user": user_id,
            "status": status and status.value,
            "limit": limit,
            "offset": offset,
        }
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(LIST_JOBS.format(JOB_COLUMNS, where), params)
            rows = await cur.fetchall()
            await cur.execute(COUNT_JOBS.format(where), params)
            total = await cur.fetchone()
        return rows, int(total["n"]) if total else 0

    async def quota_usage(self, tenant_id: str, user_id: str) -> QuotaUsage | None:
        async with self._pool.connection() as conn:
            return await load_usage(conn, tenant_id, user_id)

    async def measured_rate(self, export_format: str) -> float | None:
        """Rows per second of this format's recent finished exports (large enough for
        extraction, not the fixed costs, to dominate), over all tenants."""
        async with self._pool.connection() as conn, conn.cursor() as cur:
            await cur.execute(MEASURED_RATE, [export_format])
            row = await cur.fetchone()
        return float(row[0]) if row and row[0] else None

    async def events(self, job_id: str) -> list[dict[str, Any]]:
        """The job's events in the order they were appended (the caller checked the tenant)."""
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                "SELECT event_type, event FROM export_service.job_events"
                " WHERE job_id = %s ORDER BY sequence",
                [job_id],
            )
            return await cur.fetchall()

    async def files(self, job_id: str) -> list[dict[str, Any]]:
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                "SELECT chunk_index, file_name, path, row_count, byte_count, sha256"
                " FROM export_service.export_files WHERE job_id = %s ORDER BY chunk_index, part",
                [job_id],
            )
            return await cur.fetchall()
