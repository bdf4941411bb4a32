"""Streams one chunk out of PostgreSQL as CSV into a file: COPY does the formatting.

Runs in a worker thread with a blocking psycopg connection: COPY rows arrive one at a time,
and a plain loop over them is several times cheaper than the asyncio equivalent. Memory
stays at one write buffer whatever the chunk's size.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import IsolationLevel

from domain.plan import ChunkPlan
from domain.request import CsvOptions
from domain.validation import ResolvedQuery
from extraction import sql_builder
from extraction.store import partial_path, publish
from extraction.tenant_session import TENANT_SETTINGS

WRITE_BUFFER_BYTES = 1 << 20


@dataclass(frozen=True)
class ExtractedFile:
    path: Path
    rows: int
    bytes: int
    sha256: str


@dataclass(frozen=True)
class ProgressPolicy:
    every_rows: int = 100_000
    every_seconds: float = 2.0


def extract_csv_chunk(
    conninfo: str,
    tenant_id: str,
    query: ResolvedQuery,
    chunk: ChunkPlan,
    options: CsvOptions,
    target: Path,
    on_progress: Callable[[int], None],
    policy: ProgressPolicy = ProgressPolicy(),
) -> ExtractedFile:
    """Write the chunk's rows to `target` (via a .partial file) and return what was written.

    `on_progress` gets a running row count: newlines seen, which can run ahead of rows when
    text holds line breaks, so it is capped at the planned count; the final count is exact.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(target)
    digest = hashlib.sha256()
    written = 0
    newlines = 0
    header_lines = 1 if options.include_headers else 0
    reported = 0
    last_report = time.monotonic()
    buffer = bytearray()

    with psycopg.connect(conninfo) as conn:
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction(), conn.cursor() as cursor, open(partial, "wb") as out:
            cursor.execute(TENANT_SETTINGS, {"tenant": tenant_id})
            with cursor.copy(sql_builder.copy_chunk_csv(query, tenant_id, chunk, options)) as copy:
                for data in copy:
                    buffer += data
                    if len(buffer) < WRITE_BUFFER_BYTES:
                        continue
                    out.write(buffer)
                    digest.update(buffer)
                    written += len(buffer)
                    newlines += buffer.count(b"\n")
                    buffer.clear()
                    rows_so_far = min(max(newlines - header_lines, 0), chunk.row_count)
                    now = time.monotonic()
                    if (
                        rows_so_far - reported >= policy.every_rows
                        or now - last_report >= policy.every_seconds
                    ):
                        on_progress(rows_so_far)
                        reported, last_report = rows_so_far, now
            out.write(buffer)
            digest.update(buffer)
            written += len(buffer)
            rows = cursor.rowcount
    publish(partial, target)
    return ExtractedFile(target, rows, written, digest.hexdigest())
