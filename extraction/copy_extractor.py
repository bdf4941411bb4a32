"""Streams one chunk out of PostgreSQL with COPY into a CSV, NDJSON or JSON file.

PostgreSQL does the formatting (CSV, or row_to_json); Python only frames and writes the
bytes. It runs in a worker thread with a blocking psycopg connection: COPY rows arrive one
at a time (extraction.copy_out), and a plain loop over them costs far less than its asyncio
equivalent. Memory stays at one write buffer whatever the chunk's size.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import psycopg
from psycopg import sql

from extraction.block_writers import open_writer
from extraction.copy_out import CopyOut
from extraction.part_series import PartSeries

WRITE_BUFFER_BYTES = 1 << 20
Buffer = bytes | bytearray | memoryview
UTF8_BOM = b"\xef\xbb\xbf"


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


class PrettyJsonFraming(Framing):
    """Pretty rows hold newlines, so COPY wraps them in its quote byte (0x01): each row is
    unwrapped and given its leading comma here, and a file's first block drops its first
    comma. Joining needs no state, so a file can start anywhere, even in another stream."""

    head = b"[\n"
    tail = b"\n]\n"

    def row(self, data: Buffer) -> Buffer:
        content = data[1:-2] if data[0] == 1 else data[:-1]
        return b",\n" + content

    def block(self, data: bytes, first: bool) -> bytes:
        return data[2:] if first else data

    def empty(self) -> bytes:
        return b"[]\n"


class FileSeries(PartSeries):
    """Text files: a new part whenever the size limit would be passed. Each file is complete
    on its own: framing head and tail, and the CSV header line again."""

    def __init__(self, name_for: Callable[[int], Path], framing: Framing, compression: str):
        self.framing = framing
        self.compression = compression
        self.header = b""
        super().__init__(name_for)

    def _open_writer(self) -> None:
        self.out = open_writer(self.partial, self.compression)
        # What the file holds besides rows counts against its size limit from the start.
        self.bytes = len(self.framing.head + self.framing.tail) + (
            len(self.header) if self.part > 1 else 0
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

    def append(self, spool: Spool) -> None:
        """Rows another stream spooled, as the next rows of the current part."""
        if spool.rows:
            self.out.append_file(spool.path)
            self.first = False
            self.rows += spool.rows
        else:
            spool.path.unlink(missing_ok=True)

    def _close_writer(self) -> tuple[int, str]:
        # A new part is only opened for a row, so only part 1 can end up empty.
        self.out.write(self.framing.empty() if self.first else self.framing.tail)
        return self.out.close()


class Spool:
    """Rows of a later segment of a file, framed as they will stand in it (joined to what
    comes before) and compressed as the file is, so appending them is a plain copy. Not
    hashed: the file's hash is taken as the spool is appended."""

    def __init__(self, path: Path, framing: Framing, compression: str) -> None:
        self.path = path
        self.framing = framing
        self.header = b""
        self.rows = 0
        self.bytes = 0
        self.out = open_writer(path, compression, hashed=False)

    def write(self, block: bytes, rows: int) -> None:
        framed = self.framing.block(block, False)
        self.out.write(framed)
        self.rows += rows
        self.bytes += len(framed)

    def next(self) -> None:
        raise AssertionError("a spool has no size limit: the file it joins is checked")

    def stored_bytes(self) -> int:
        return self.path.stat().st_size

    def finish(self) -> None:
        self.out.close()

    def abandon(self) -> None:
        with contextlib.suppress(Exception):
            self.out.close()
        self.path.unlink(missing_ok=True)


class Progress(Protocol):
    def update(self, rows: int, stored_bytes: int = 0) -> None: ...


def copy_rows(
    cursor: psycopg.Cursor[Any],
    statement: sql.Composed,
    output: FileSeries | Spool,
    limit: int,
    progress: Progress,
) -> None:
    """Run one COPY and write its rows to `output`; a CSV header, when the statement asks
    for one, is its first row."""
    with CopyOut(cursor.connection, statement.as_bytes(cursor)) as rows:
        _CopyLoop(output, limit, progress).run(rows)


class _CopyLoop:
    """COPY's rows into blocks of about WRITE_BUFFER_BYTES, each written whole. The loop runs
    once per row, so it keeps its state in locals and calls nothing it need not."""

    def __init__(self, series: FileSeries | Spool, limit: int, progress: Progress) -> None:
        self.series = series
        self.limit = limit
        self.progress = progress

    def run(self, rows: Iterable[Buffer]) -> None:
        series, framing, limit = self.series, self.series.framing, self.limit
        buffer = bytearray()
        buffered = 0
        done = 0
        # A spool continues a file, so its COPY has no header line.
        expect_header = framing.header_lines > 0 and isinstance(series, FileSeries)
        per_row = type(framing).row is not Framing.row
        for data in rows:
            if expect_header:
                # COPY's first row is the header: kept to start every part with.
                series.header = bytes(data)
                buffer += data
                expect_header = False
                continue
            row = framing.row(data) if per_row else data
            if limit and self._would_pass_limit(len(buffer), buffered, len(row)):
                series.write(bytes(buffer), buffered)
                buffer.clear()
                buffered = 0
                series.next()
            buffer += row
            buffered += 1
            if len(buffer) < WRITE_BUFFER_BYTES:
                continue
            done += buffered
            series.write(bytes(buffer), buffered)
            buffer.clear()
            buffered = 0
            self.progress.update(done, series.stored_bytes())
        if buffer:
            series.write(bytes(buffer), buffered)

    def _would_pass_limit(self, buffered_bytes: int, buffered_rows: int, row_bytes: int) -> bool:
        """Whether one more row would take the current file past the size limit (a file
        always takes at least one row)."""
        series = self.series
        framed = buffered_bytes + row_bytes + (buffered_rows + 1) * series.framing.row_overhead
        return series.bytes + framed > self.limit and series.rows + buffered_rows > 0
