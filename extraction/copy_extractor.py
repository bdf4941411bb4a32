"""Streams one chunk out of PostgreSQL with COPY into a CSV, NDJSON or JSON file.

PostgreSQL does the formatting (CSV, or row_to_json); Python only frames and writes the
bytes. It runs in a worker thread with a blocking psycopg connection: COPY rows arrive one
at a time, and a plain loop over them costs far less than its asyncio equivalent. Memory
stays at one write buffer whatever the chunk's size.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import IsolationLevel, sql

from extraction.block_writers import open_writer
from extraction.progress import ProgressPolicy, ProgressReporter
from extraction.store import partial_path, publish, remove_chunk_files
from extraction.tenant_session import SESSION_SETTINGS, session_parameters

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


class Framing:
    """How COPY's rows become a file: what comes first and last, and how rows are joined.

    The base class writes rows as they come (CSV, NDJSON).
    """

    head: bytes = b""
    tail: bytes = b""
    header_lines: int = 0
    # Bytes that joining adds per row (JSON's commas), for size limits checked before joining.
    row_overhead: int = 0

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
    row_overhead = 1

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


class _FileSeries:
    """The files one chunk's rows go into: a new one whenever the size limit would be passed.

    Each file is complete on its own: framing head and tail, and the CSV header line again.
    """

    def __init__(self, name_for: Callable[[int], Path], framing: Framing, compression: str):
        self.name_for = name_for
        self.framing = framing
        self.compression = compression
        self.header = b""
        self.done: list[ExtractedFile] = []
        self._open(1)

    def _open(self, part: int) -> None:
        self.part = part
        self.target = self.name_for(part)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.partial = partial_path(self.target)
        self.out = open_writer(self.partial, self.compression)
        self.rows = 0
        # What the file holds besides rows counts against its size limit from the start.
        self.bytes = len(self.framing.head + self.framing.tail) + (
            len(self.header) if part > 1 else 0
        )
        self.first = True

    def write(self, block: bytes, rows: int) -> None:
        """Whole rows, framed as this file's first block or a later one."""
        if self.first:
            self.out.write(self.framing.head + (self.header if self.part > 1 else b""))
        framed = self.framing.block(block, self.first)
        self.out.write(framed)
        self.first = False
        self.rows += rows
        self.bytes += len(framed)

    def finish(self) -> None:
        # A new part is only opened for a row, so only part 1 can end up empty.
        self.out.write(self.framing.empty() if self.first else self.framing.tail)
        size, digest = self.out.close()
        publish(self.partial, self.target)
        self.done.append(ExtractedFile(self.target, self.rows, size, digest))

    def next(self) -> None:
        self.finish()
        self._open(self.part + 1)

    def stored_bytes(self) -> int:
        """What this chunk has stored so far (compressed, where it is)."""
        return sum(f.bytes for f in self.done) + self.partial.stat().st_size

    def abandon(self) -> None:
        with contextlib.suppress(Exception):
            self.out.close()
        remove_chunk_files([f.path for f in self.done], self.partial)


def extract_with_copy(
    conninfo: str,
    tenant_id: str,
    statement: sql.Composed,
    request_settings: Mapping[str, str],
    framing: Framing,
    planned_rows: int,
    name_for: Callable[[int], Path],
    on_progress: Callable[[int], None],
    policy: ProgressPolicy,
    compression: str = "NONE",
    max_file_bytes: int | None = None,
) -> list[ExtractedFile]:
    """Write the COPY's rows to files named by `name_for(part)` and describe them.

    One file, unless `max_file_bytes` (of uncompressed content) closes a file early: then
    the rows continue in part 2, 3, ... Files are written as .partial and renamed when
    complete; with GZIP or ZSTD they are compressed as they are written. `on_progress` gets
    a running row count every `policy` rows or seconds; the counts in the result are exact.
    """
    series = _FileSeries(name_for, framing, compression)
    buffer = bytearray()
    buffered_rows = 0
    rows_done = 0
    progress = ProgressReporter(on_progress, policy, planned_rows)
    expect_header = framing.header_lines > 0
    per_row = type(framing).row is not Framing.row
    limit = max_file_bytes or 0

    def flush() -> None:
        nonlocal buffered_rows
        series.write(bytes(buffer), buffered_rows)
        buffer.clear()
        buffered_rows = 0

    try:
        with psycopg.connect(conninfo) as conn:
            conn.isolation_level = IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            with conn.transaction(), conn.cursor() as cursor:
                cursor.execute(SESSION_SETTINGS, session_parameters(tenant_id, request_settings))
                with cursor.copy(statement) as copy:
                    for data in copy:
                        if expect_header:
                            # COPY's first row is the header: kept to start every part with.
                            series.header = bytes(data)
                            buffer += data
                            expect_header = False
                            continue
                        row = framing.row(data) if per_row else data
                        if (
                            limit
                            and series.bytes
                            + len(buffer)
                            + len(row)
                            + (buffered_rows + 1) * framing.row_overhead
                            > limit
                            and series.rows + buffered_rows > 0
                        ):
                            flush()
                            series.next()
                        buffer += row
                        buffered_rows += 1
                        if len(buffer) < WRITE_BUFFER_BYTES:
                            continue
                        rows_done += buffered_rows
                        flush()
                        progress.update(rows_done, series.stored_bytes())
                if buffer:
                    flush()
                series.finish()
    except BaseException:
        series.abandon()
        raise
    return series.done
