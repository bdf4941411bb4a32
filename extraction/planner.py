"""Counts an export's rows and plans its chunks, at acceptance, under a high-water mark."""

from __future__ import annotations

import psycopg
from psycopg import IsolationLevel

from domain.inbox import Acceptance
from domain.plan import plan_by_key, plan_by_offset
from domain.validation import ResolvedQuery
from extraction import sql_builder
from extraction.tenant_session import SESSION_SETTINGS, session_parameters


async def plan_export(
    conninfo: str, tenant_id: str, query: ResolvedQuery, rows_per_file: int
) -> Acceptance:
    """Fix the export's rows: the key high-water mark, the exact count, and the chunks.

    Rows added after this (keys above the mark) are not part of the export, so every chunk
    can be redone later and still mean the same rows.
    """
    async with await psycopg.AsyncConnection.connect(conninfo) as conn:
        await conn.set_isolation_level(IsolationLevel.REPEATABLE_READ)
        await conn.set_read_only(True)
        async with conn.transaction():
            await conn.execute(
                SESSION_SETTINGS,
                session_parameters(tenant_id, sql_builder.request_settings(query)),
            )
            hwm = await _scalar(conn, sql_builder.high_water_mark(query, tenant_id))
            total = await _scalar(conn, sql_builder.count_rows(query, tenant_id, hwm))
            if not query.ordered_by_key:
                chunks = plan_by_offset(total, rows_per_file, hwm)
            else:
                boundaries = await _key_boundaries(
                    conn, query, tenant_id, hwm, total, rows_per_file
                )
                chunks = plan_by_key(total, boundaries, hwm, query.key_descending, rows_per_file)
    return Acceptance(
        total_rows=total, high_water_mark=hwm, max_rows_per_file=rows_per_file, chunks=chunks
    )


async def _key_boundaries(
    conn: psycopg.AsyncConnection,
    query: ResolvedQuery,
    tenant_id: str,
    hwm: int,
    total: int,
    rows_per_chunk: int,
) -> list[int]:
    """The last key of every full chunk but the final one, walking the key index."""
    boundaries: list[int] = []
    key_min: int | None = None
    key_max: int | None = hwm
    while (len(boundaries) + 1) * rows_per_chunk < total:
        statement = sql_builder.nth_key(query, tenant_id, key_min, key_max, rows_per_chunk)
        boundary = await _scalar(conn, statement)
        boundaries.append(boundary)
        if query.key_descending:
            key_max = boundary - 1
        else:
            key_min = boundary + 1
    return boundaries


async def _scalar(conn: psycopg.AsyncConnection, statement: psycopg.sql.Composed) -> int:
    cursor = await conn.execute(statement)
    row = await cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else 0
