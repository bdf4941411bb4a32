"""Measure an export without running it: its rows (counted when cheap) and a rendered sample.

One read-only transaction with the tenant's session, as extraction itself uses; the
statements are the export's own (extraction.sql_builder), so the sample is byte for byte
what the export would write for its first rows.
"""

from __future__ import annotations

from typing import Any

import psycopg
import zstandard

from domain.estimate import Sample
from domain.validation import ResolvedQuery
from export_contract.plan import ChunkPlan
from export_contract.request import CsvOptions, ExportFormat, ExportRequest
from extraction import sql_builder
from extraction.block_writers import ZSTD_LEVEL, gzip_compressor
from extraction.tenant_session import enter_tenant, read_only_snapshot

SAMPLE_ROWS = 2_000
# Above this many rows (by the planner's estimate) counting costs seconds: the estimate is
# the planner's and says so.
EXACT_COUNT_LIMIT = 5_000_000


async def sample_export(
    conninfo: str, tenant_id: str, query: ResolvedQuery, request: ExportRequest
) -> Sample:
    text_format = request.format in (ExportFormat.CSV, ExportFormat.JSON, ExportFormat.NDJSON)
    csv = request.csv_options() if request.format is ExportFormat.CSV else CsvOptions()
    async with await psycopg.AsyncConnection.connect(conninfo) as conn:
        await read_only_snapshot(conn)
        async with conn.transaction():
            await enter_tenant(conn, tenant_id, sql_builder.request_settings(query, csv))
            hwm = await _scalar(conn, sql_builder.high_water_mark(query, tenant_id))
            planned = await _planned_rows(conn, query, tenant_id, hwm)
            exact = planned <= EXACT_COUNT_LIMIT
            rows = (
                await _scalar(conn, sql_builder.count_rows(query, tenant_id, hwm))
                if exact
                else planned
            )
            first = ChunkPlan(index=0, first_row=0, row_count=SAMPLE_ROWS, key_max=hwm)
            if request.format in (ExportFormat.JSON, ExportFormat.NDJSON):
                json_options = request.json_options()
                statement = sql_builder.copy_chunk_json(
                    query,
                    tenant_id,
                    first,
                    json_options.date_format,
                    json_options.pretty,
                    limit=SAMPLE_ROWS,
                )
            else:
                statement = sql_builder.copy_chunk_csv(
                    query, tenant_id, first, csv, limit=SAMPLE_ROWS
                )
            text, sample_rows = await _copy(conn, statement)
    header = 0
    if request.format is ExportFormat.CSV and csv.include_headers:
        header = text.index(b"\n") + 1 if b"\n" in text else len(text)
    body = text[header:] if request.format is ExportFormat.CSV else text
    if request.format is ExportFormat.CSV and csv.byte_order_mark:
        header += 3
    stored = _compressed_size(body, request.compression) if text_format else len(body)
    return Sample(rows, exact, sample_rows, len(body), stored, header)


async def _planned_rows(
    conn: psycopg.AsyncConnection[Any], query: ResolvedQuery, tenant_id: str, hwm: int
) -> int:
    statement = psycopg.sql.SQL("EXPLAIN (FORMAT JSON) {}").format(
        sql_builder.matching_rows(query, tenant_id, hwm)
    )
    cursor = await conn.execute(statement)
    row = await cursor.fetchone()
    plan = row[0][0]["Plan"] if row else {}
    return int(plan.get("Plan Rows", 0))


async def _copy(
    conn: psycopg.AsyncConnection[Any], statement: psycopg.sql.Composed
) -> tuple[bytes, int]:
    """The sample's text (at most SAMPLE_ROWS rows: small enough to hold) and its row count."""
    parts: list[bytes] = []
    async with conn.cursor() as cursor:
        async with cursor.copy(statement) as copy:
            async for data in copy:
                parts.append(bytes(data))
        return b"".join(parts), max(cursor.rowcount, 0)


def _compressed_size(data: bytes, compression: str) -> int:
    if compression == "GZIP":
        compressor = gzip_compressor()
        return len(compressor.compress(data) + compressor.flush())
    if compression == "ZSTD":
        return len(zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(data))
    return len(data)


async def _scalar(conn: psycopg.AsyncConnection[Any], statement: psycopg.sql.Composed) -> int:
    cursor = await conn.execute(statement)
    row = await cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else 0
