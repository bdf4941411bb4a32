"""Streams one chunk out of PostgreSQL with COPY into a CSV, NDJSON or JSON file.

PostgreSQL does the formatting (CSV, or row_to_json); Python only frames and writes the
bytes. It runs in a worker thread with a blocking psycopg connection: COPY rows arrive one
at a time, and a plain loop over them costs far less than its asyncio equivalent. Memory
stays at one write buffer whatever the chunk's size.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import IsolationLevel, sql

from extraction.block_writers import open_writer
from extraction.store import partial_path, publish
from extraction.tenant_session import TENANT_SETTINGS

WRITE_BUFFER_BYTES = 1 << 20
Buffer = bytes | bytearray | memoryview
UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class ExtractedFile:
    path: Path
    rows: int
    bytes: int
    sha256: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProgressPolicy:
    every_rows: int = 100_000
    every_seconds: float = 2.0


class Framing:
    """How COPY's rows become a file: what comes first and last, and how rows are joined.

    The base class writes rows as they come (CSV, NDJSON).
    """

    head: bytes = b""
    tail: bytes = b""
    header_lines: int = 0

    def row(self, data: Buffer) -> Buffer:
        """Per-row work; most framings do none."""
        return data

    def block(self, data: bytes, first: bool) -> bytes:
        """Work on a block of whole rows before it is written."""
        return data

    def empty(self) -> bytes:
        return self.head + self.tail


@dataclass
class CsvFraming(Framing):
    byte_order_mark: bool = False
    include_headers: bool = True

    def __post_init__(self) -> None:
        self.head = UTF8_BOM if self.byte_order_mark else b""
        self.header_lines = 1 if self.include_headers else 0


class CompactJsonFraming(Framing):
    """One JSON array per file. row_to_json writes no raw newline, so every newline in a
    block ends a row, and joining rows is one bytes.replace per block, not per row."""

    head = b"[\n"
    tail = b"\n]\n"

    def block(self, data: bytes, first: bool) -> bytes:
        joined = data[:-1].replace(b"\n", b",\n")
        return joined if first else b",\n" + joined

    def empty(self) -> bytes:
        return b"[]\n"


@dataclass
class PrettyJsonFraming(Framing):
    """Pretty rows hold newlines, so COPY wraps them in its quote byte (0x01): unwrap each
    row, and join rows here rather than per block."""

    head: bytes = b"[\n"
    tail: bytes = b"\n]\n"
    _first: bool = field(default=True, repr=False)

    def row(self, data: Buffer) -> Buffer:
        content = bytes(data[1:-2]) if data[0] == 1 else bytes(data[:-1])
        if self._first:
            self._first = False
            return content
        return b",\n" + content

    def empty(self) -> bytes:
        return b"[]\n"


def extract_with_copy(
    conninfo: str,
    tenant_id: str,
    statement: sql.Composed,
    framing: Framing,
    planned_rows: int,
    target: Path,
    on_progress: Callable[[int], None],
    policy: ProgressPolicy = ProgressPolicy(),
    compression: str = "NONE",
) -> ExtractedFile:
    """Write the COPY's rows to `target` (via a .partial file) and return what was written;
    with GZIP or ZSTD the file is compressed as it is written, and `target` should say so.

    `on_progress` gets a running row count: newlines seen, which can run ahead of rows when
    text holds line breaks, so it is capped at the planned count; the final count is exact.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(target)
    newlines = 0
    reported = 0
    last_report = time.monotonic()
    buffer = bytearray()
    first = True
    per_row = type(framing).row is not Framing.row

    out = open_writer(partial, compression)
    try:
        with psycopg.connect(conninfo) as conn:
            conn.isolation_level = IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            with conn.transaction(), conn.cursor() as cursor:
                cursor.execute(TENANT_SETTINGS, {"tenant": tenant_id})
                with cursor.copy(statement) as copy:
                    for data in copy:
                        buffer += framing.row(data) if per_row else data
                        if len(buffer) < WRITE_BUFFER_BYTES:
                            continue
                        if first:
                            out.write(framing.head)
                        newlines += buffer.count(b"\n")
                        out.write(framing.block(bytes(buffer), first))
                        first = False
                        buffer.clear()
                        rows_so_far = min(max(newlines - framing.header_lines, 0), planned_rows)
                        now = time.monotonic()
                        if (
                            rows_so_far - reported >= policy.every_rows
                            or now - last_report >= policy.every_seconds
                        ):
                            on_progress(rows_so_far)
                            reported, last_report = rows_so_far, now
                rows = cursor.rowcount
                if first and not buffer and rows == 0:
                    out.write(framing.empty())
                else:
                    if first:
                        out.write(framing.head)
                    if buffer:
                        out.write(framing.block(bytes(buffer), first))
                    out.write(framing.tail)
    except BaseException:
        # Stop the compressor thread and leave no partial file behind.
        with contextlib.suppress(Exception):
            out.close()
        partial.unlink(missing_ok=True)
        raise
    written, digest = out.close()
    publish(partial, target)
    return ExtractedFile(target, rows, written, digest)
