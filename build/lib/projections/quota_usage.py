"""The quota_usage read model: each user's counters as the quotas table last held them.

Written by the command agent after every change; a row only ever moves to a newer version,
so a late write of an older copy is dropped.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from domain.quota import QuotaUsage, Reservation

UPSERT = """
INSERT INTO export_service.quota_usage
    (tenant_id, user_id, day, rows_used, exports_used, active_jobs, version, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, now())
ON CONFLICT (tenant_id, user_id) DO UPDATE SET
    day = excluded.day, rows_used = excluded.rows_used, exports_used = excluded.exports_used,
    active_jobs = excluded.active_jobs, version = excluded.version, updated_at = now()
WHERE export_service.quota_usage.version < excluded.version
"""

SELECT = """
SELECT day, rows_used, exports_used, active_jobs, version
FROM export_service.quota_usage WHERE tenant_id = %s AND user_id = %s
"""


async def save_usage(
    conn: AsyncConnection, tenant_id: str, user_id: str, usage: QuotaUsage
) -> None:
    await conn.execute(
        UPSERT,
        [
            tenant_id,
            user_id,
            usage.day,
            usage.rows,
            usage.exports,
            sorted(usage.active),
            usage.version,
        ],
    )


async def load_usage(conn: AsyncConnection[Any], tenant_id: str, user_id: str) -> QuotaUsage | None:
    async with conn.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(SELECT, [tenant_id, user_id])
        row = await cursor.fetchone()
    if row is None:
        return None
    return QuotaUsage(
        day=row["day"],
        rows=row["rows_used"],
        exports=row["exports_used"],
        # Only the number of active jobs is read back; their reservations stay in the table.
        active={job: Reservation(rows=0, day=row["day"]) for job in row["active_jobs"]},
        version=row["version"],
    )
