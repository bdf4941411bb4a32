"""Streams one chunk out of PostgreSQL as Arrow record batches (ADBC) into a Parquet file.

No per-row Python: batches are cast column by column to the catalogue's exact types and
handed to ParquetWriter. At most one row group is held in memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import adbc_driver_postgresql.dbapi as adbc
import pyarrow as pa
import pyarrow.parquet as pq
from psycopg import sql

from domain.plan import ChunkPlan
from domain.request import ParquetOptions
from domain.validation import ResolvedQuery
from extraction import sql_builder
from extraction.arrow_schema import conform, export_schema
from extraction.copy_extractor import ExtractedFile, ProgressPolicy
from extraction.store import hash_file, partial_path, publish

COMPRESSION = {"SNAPPY": "snappy", "GZIP": "gzip", "ZSTD": "zstd", "NONE": "none"}


def _tenant_settings(tenant_id: str) -> str:
    # ADBC runs plain text; the tenant id is quoted by psycopg's Literal, as elsewhere.
    return (
        sql.SQL("SELECT set_config('app.tenant_id', {}, true), set_config('TimeZone', 'UTC', true)")
        .format(sql.Literal(tenant_id))
        .as_string(None)
    )


def extract_parquet(
    conninfo: str,
    tenant_id: str,
    query: ResolvedQuery,
    chunk: ChunkPlan,
    options: ParquetOptions,
    target: Path,
    on_progress: Callable[[int], None],
    policy: ProgressPolicy,
) -> ExtractedFile:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(target)
    schema = export_schema(query)
    rows = 0
    reported = 0
    last_report = time.monotonic()
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    statement = sql_builder.select_chunk(query, tenant_id, chunk).as_string(None)

    with adbc.connect(conninfo) as conn, conn.cursor() as cursor:
        cursor.execute(_tenant_settings(tenant_id))
        cursor.fetchall()
        cursor.execute(statement)
        reader = cursor.fetch_record_batch()
        with pq.ParquetWriter(
            partial, schema, compression=COMPRESSION[options.compression]
        ) as writer:
            for batch in reader:
                pending.append(conform(batch, schema))
                pending_rows += batch.num_rows
                rows += batch.num_rows
                # Row groups of the requested size, whatever size ADBC's batches come in.
                while pending_rows >= options.row_group_size:
                    table = pa.Table.from_batches(pending, schema=schema)
                    writer.write_table(table.slice(0, options.row_group_size))
                    rest = table.slice(options.row_group_size)
                    pending = rest.to_batches()
                    pending_rows = rest.num_rows
                now = time.monotonic()
                if (
                    rows - reported >= policy.every_rows
                    or now - last_report >= policy.every_seconds
                ):
                    on_progress(rows)
                    reported, last_report = rows, now
            if pending_rows:
                writer.write_table(pa.Table.from_batches(pending, schema=schema))
        conn.rollback()
    digest, size = hash_file(partial)
    publish(partial, target)
    return ExtractedFile(target, rows, size, digest)
