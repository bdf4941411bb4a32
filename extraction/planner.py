"""Counts an export's rows and plans its chunks, at acceptance, under a high-water mark."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from domain.inbox import Acceptance
from domain.validation import ResolvedQuery
from export_contract.plan import plan_by_key, plan_by_offset
from extraction import sql_builder
from extraction.segments import after_boundary
from extraction.tenant_session import enter_tenant, read_only_snapshot


class Planner:
    """Plans on a few kept connections: opening one costs about 10 ms, a third of what a
    small export spends from its command to its acceptance."""

    def __init__(self, conninfo: str, max_connections: int = 2) -> None:
        self._pool = AsyncConnectionPool(
            conninfo,
            min_size=1,
            max_size=max_connections,
            open=False,
            configure=read_only_snapshot,
            # A connection the database dropped (a restart) is replaced, not handed out.
            check=AsyncConnectionPool.check_connection,
        )
        self._opening = asyncio.Lock()

    async def plan(self, tenant_id: str, query: ResolvedQuery, rows_per_file: int) -> Acceptance:
        async with self._opening:
            if self._pool.closed:
                await self._pool.open()
        async with self._pool.connection() as conn:
            return await plan_export(conn, tenant_id, query, rows_per_file)

    async def close(self) -> None:
        await self._pool.close()


async def plan_export(
    conn: psycopg.AsyncConnection[Any], tenant_id: str, query: ResolvedQuery, rows_per_file: int
) -> Acceptance:
    """Fix the export's rows: the key high-water mark, the exact count, and the chunks, in one
    repeatable-read, read-only transaction.

    Rows added after this (keys above the mark) are not part of the export, so every chunk
    can be redone later and still mean the same rows.
    """
    async with conn.transaction():
        await enter_tenant(conn, tenant_id, sql_builder.request_settings(query))
        hwm = await _scalar(conn, sql_builder.high_water_mark(query, tenant_id))
        total = await _scalar(conn, sql_builder.count_rows(query, tenant_id, hwm))
        if not query.ordered_by_key:
            chunks = plan_by_offset(total, rows_per_file, hwm)
        else:
            boundaries = await _key_boundaries(conn, query, tenant_id, hwm, total, rows_per_file)
            chunks = plan_by_key(total, boundaries, hwm, query.key_descending, rows_per_file)
    return Acceptance(
        total_rows=total, high_water_mark=hwm, max_rows_per_file=rows_per_file, chunks=chunks
    )


async def _key_boundaries(
    conn: psycopg.AsyncConnection[Any],
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
        key_min, key_max = after_boundary(query.key_descending, key_min, key_max, boundary)
    return boundaries


async def _scalar(conn: psycopg.AsyncConnection[Any], statement: psycopg.sql.Composed) -> int:
    cursor = await conn.execute(statement)
    row = await cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else 0
