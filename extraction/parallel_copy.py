"""One chunk of CSV, NDJSON or JSON read by several COPY streams at once, written in order.

One PostgreSQL backend formatting COPY output is the bound of a single stream, so a large
chunk is cut into key-range segments (extraction.segments), read by sessions of their own,
each taking the next segment when it is done with one. The first segment streams straight
into the chunk's file. Each later one is spooled beside it, framed and compressed as it will
stand in the file (so compression runs on as many threads as there are streams), and
appended as soon as the segments before it are; the file's SHA-256 is taken as the bytes
land. A stream reads several segments in turn so that appending keeps pace with reading:
when the last row arrives only the last few segments are left to append, not three quarters
of the file. With `maxFileBytes` each segment writes whole files of its own instead,
numbered in order at the end, so a file can end short of the limit where a segment ends;
there each stream reads one segment, so that few files end short.

A chunk is still redone whole after a failure: its segments are one task's work, and its
files are published only when every segment is in them.
"""

from __future__ import annotations

import contextlib
import queue
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
from psycopg import sql

from export_contract.plan import ChunkPlan
from extraction.chunk_work import ChunkWork
from extraction.copy_extractor import FileSeries, Framing, Spool, copy_rows
from extraction.part_series import ExtractedFile
from extraction.progress import SharedProgress, StreamAborted
from extraction.segments import find_boundaries, split_chunk, wanted_streams
from extraction.stream_slots import take_slots
from extraction.tenant_session import copy_session
from observability.metrics import COPY_STREAMS

# The COPY of one segment; `header` is False for segments that continue a file.
StatementFor = Callable[[ChunkPlan, bool], sql.Composed]
Cursor = psycopg.Cursor[Any]
Output = FileSeries | Spool
# Segments per stream without a size limit. Measured on a 9M-row file with four streams,
# one segment each: the last 2.4 s went to appending 1.2 GB of spools after every stream had
# ended.
SEGMENTS_PER_STREAM = 4


def extract_with_copy(
    work: ChunkWork,
    statement_for: StatementFor,
    request_settings: Mapping[str, str],
    framing: Framing,
) -> list[ExtractedFile]:
    """Write the chunk's rows to its files and describe them.

    One file, unless `max_file_bytes` (of uncompressed content) closes a file early: then
    the rows continue in part 2, 3, ... With GZIP or ZSTD files are compressed as they are
    written. Progress is told every `policy` rows or seconds; the counts in the result are
    exact.
    """
    series = FileSeries(work.name_for, framing, work.compression)
    try:
        with ExitStack() as sessions:
            first = sessions.enter_context(
                copy_session(work.conninfo, work.tenant_id, request_settings)
            )
            wanted = wanted_streams(work.chunk, work.chunks_in_export, work.query, work.streams)
            if wanted > 1:
                # Counted against the bounds when a slot is free; the chunk's own stream runs
                # either way, as the number of extractors already bounds those.
                take_slots(first, work.job_id, work.streams.per_export, work.streams.per_database)
            cursors = [first, *_open_more_streams(sessions, work, request_settings, wanted - 1)]
            segments = _segments(first, work, len(cursors))
            # Fewer segments than sessions when the chunk has lost rows since it was planned.
            cursors = cursors[: len(segments)]
            COPY_STREAMS.inc(len(cursors))
            _run_segments(work, series, statement_for, cursors, segments)
    except BaseException:
        series.abandon()
        raise
    return series.done


def _open_more_streams(
    sessions: ExitStack, work: ChunkWork, request_settings: Mapping[str, str], count: int
) -> list[Cursor]:
    """Sessions for further streams, as many as the export's and the database's free slots
    allow (at most `count`)."""
    cursors: list[Cursor] = []
    for _ in range(count):
        with ExitStack() as attempt:
            cursor = attempt.enter_context(
                copy_session(work.conninfo, work.tenant_id, request_settings)
            )
            if not take_slots(
                cursor, work.job_id, work.streams.per_export, work.streams.per_database
            ):
                break
            sessions.enter_context(attempt.pop_all())
            cursors.append(cursor)
    return cursors


def _segments(first: Cursor, work: ChunkWork, streams: int) -> list[ChunkPlan]:
    if streams == 1:
        return [work.chunk]
    count = streams * (1 if work.max_file_bytes else SEGMENTS_PER_STREAM)
    boundaries = find_boundaries(first, work.query, work.tenant_id, work.chunk, count)
    return split_chunk(work.chunk, boundaries, work.query.key_descending)


def _run_segments(
    work: ChunkWork,
    series: FileSeries,
    statement_for: StatementFor,
    cursors: list[Cursor],
    segments: list[ChunkPlan],
) -> None:
    """Every segment read on a thread per stream, in order, each with whichever session is
    free; the first into `series`, the others' output appended after it, in order, as each
    is done."""
    limit = work.max_file_bytes or 0
    progress = SharedProgress(work.reporter())
    free: queue.SimpleQueue[Cursor] = queue.SimpleQueue()
    for cursor in cursors:
        free.put(cursor)
    # Spools and segment files are made as their segment starts, so only the running
    # segments hold a writer (and a compressor).
    made: list[Output] = []

    def copy_segment(number: int, plan: ChunkPlan) -> Output:
        progress.raise_if_aborted()  # started after the chunk failed: no spool is opened
        output: Output = series
        if number > 1:
            output = _output_for(work, series, number)
            made.append(output)
        cursor = free.get()  # as many threads as sessions: one is always free
        try:
            header = number == 1 or bool(limit)
            copy_rows(cursor, statement_for(plan, header), output, limit, progress.stream(number))
        finally:
            free.put(cursor)
        if output is not series:
            output.finish()
        return output

    with ThreadPoolExecutor(max_workers=len(cursors), thread_name_prefix="copy") as pool:
        futures = [
            pool.submit(copy_segment, number, plan) for number, plan in enumerate(segments, 1)
        ]
        try:
            futures[0].result()
            if limit:
                series.finish()
            for future in futures[1:]:
                output = future.result()
                if isinstance(output, Spool):
                    series.append(output)
                else:
                    series.adopt(output.done)
            if not limit:
                series.finish()
        except BaseException as exc:
            progress.abort()
            for future in futures:
                future.cancel()  # segments not yet started are not read at all
            wait(futures)
            for output in made:
                output.abandon()
            raise _cause(exc, futures) from None


def _output_for(work: ChunkWork, series: FileSeries, number: int) -> Output:
    """Where segment `number` writes: a spool beside the file, or, with a size limit, whole
    files of its own under names that say which segment they belong to."""
    # Unique per run, like partial files: a task redelivered while its first run goes on
    # writes beside it.
    run = uuid4().hex[:12]
    if not work.max_file_bytes:
        spool = series.target.with_name(f"{series.target.name}.{run}.segment-{number:02d}.spool")
        return Spool(spool, series.framing, work.compression)

    def segment_name(part: int) -> Path:
        target = work.name_for(1)
        return target.with_name(f"{target.name}.{run}.segment-{number:02d}-{part:03d}")

    return FileSeries(segment_name, series.framing, work.compression)


def _cause(raised: BaseException, futures: list[Future[Output]]) -> BaseException:
    """The failure that stopped the chunk, rather than a stream stopped because of it."""
    if not isinstance(raised, StreamAborted):
        return raised
    for future in futures:
        with contextlib.suppress(BaseException):
            failure = future.exception()
            if failure is not None and not isinstance(failure, StreamAborted):
                return failure
    return raised
