"""Queries of the schedules' read model, always scoped to the caller's tenant."""

from __future__ import annotations

from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from projections.schedule_read_model import live_schedules

SCHEDULE_COLUMNS = """
    id, tenant_id, owner_id, status, spec, rejection, next_slot_at, created_at, updated_at
"""
GET_SCHEDULE = (
    f"SELECT {SCHEDULE_COLUMNS} FROM export_service.export_schedules"
    " WHERE id = %s AND tenant_id = %s"
)
LIST_SCHEDULES = (
    f"SELECT {SCHEDULE_COLUMNS} FROM export_service.export_schedules"
    " WHERE tenant_id = %s AND owner_id = %s AND status IN ('ACTIVE', 'PAUSED')"
    " ORDER BY created_at DESC, id"
)
LIST_RUNS = """
SELECT slot, run_number, job_id, status, rows, key_after, key_through, reason, decided_at,
    finished_at
FROM export_service.schedule_runs WHERE schedule_id = %s ORDER BY slot DESC LIMIT %s
"""


class SchedulesRepository:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def get(self, tenant_id: str, schedule_id: str) -> dict[str, Any] | None:
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(GET_SCHEDULE, [schedule_id, tenant_id])
            return await cur.fetchone()

    async def list_for_owner(self, tenant_id: str, user_id: str) -> list[dict[str, Any]]:
        """The user's schedules that still exist (active or paused), newest first."""
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(LIST_SCHEDULES, [tenant_id, user_id])
            return await cur.fetchall()

    async def live_count(self, tenant_id: str, user_id: str) -> int:
        async with self._pool.connection() as conn:
            return await live_schedules(conn, tenant_id, user_id)

    async def runs(self, schedule_id: str, limit: int) -> list[dict[str, Any]]:
        """The latest decided slots first (the caller checked the tenant)."""
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(LIST_RUNS, [schedule_id, limit])
            return await cur.fetchall()
