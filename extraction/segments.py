"""How one chunk is cut into segments that separate COPY streams read at the same time.

A chunk is the unit of a task and of its files; a segment is the unit one database stream
reads. Only key-range chunks are cut: a chunk ordered by other columns pages by offset, and
each segment of it would sort the export's rows again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import Cursor

from domain.validation import ResolvedQuery
from export_contract.plan import ChunkPlan
from extraction import sql_builder


@dataclass(frozen=True)
class StreamPolicy:
    """How many COPY streams a chunk may use, and the bounds that keep one export from
    starving the others. The chunk's own stream always runs; each further stream needs a
    free slot both in its export and in the database (see extraction.stream_slots)."""

    per_chunk: int = 1
    per_export: int = 4
    per_database: int = 8
    # Fewer rows than this per stream do not pay for another connection and its spool.
    min_rows_per_stream: int = 200_000


ONE_STREAM = StreamPolicy()


def wanted_streams(
    chunk: ChunkPlan, chunks_in_export: int, query: ResolvedQuery, policy: StreamPolicy
) -> int:
    """How many streams this chunk would use if every slot it asks for were free.

    The export's slots are shared by this chunk and those after it. While enough of them are
    left to fill the slots side by side, each reads with one stream and spools nothing; the
    last few split the slots between them, so the export's tail still reads in parallel.
    """
    if not query.ordered_by_key:
        return 1
    by_rows = chunk.row_count // max(policy.min_rows_per_stream, 1)
    from_here = max(1, chunks_in_export - chunk.index + 1)
    by_share = policy.per_export // min(from_here, policy.per_export)
    return max(1, min(policy.per_chunk, by_rows, by_share))


def split_chunk(
    chunk: ChunkPlan, boundaries: list[int | None], descending: bool
) -> list[ChunkPlan]:
    """The chunk as consecutive key ranges in export order; `boundaries` are the last keys of
    every segment but the final one. The first and last segments keep the chunk's own open or
    closed ends, so no row falls between segments."""
    cuts = [b for b in boundaries if b is not None]
    if len(cuts) < len(boundaries):
        # The chunk holds fewer rows than planned (rows removed since): read it whole.
        return [chunk]
    share = chunk.row_count // (len(cuts) + 1)
    counts = [share] * len(cuts) + [chunk.row_count - share * len(cuts)]
    if descending:
        lows: list[int | None] = [*cuts, chunk.key_min]
        highs: list[int | None] = [chunk.key_max, *(c - 1 for c in cuts)]
    else:
        lows = [chunk.key_min, *(c + 1 for c in cuts)]
        highs = [*cuts, chunk.key_max]
    first_rows = [chunk.first_row + share * i for i in range(len(counts))]
    return [
        chunk.model_copy(
            update={"first_row": first, "row_count": rows, "key_min": lo, "key_max": hi}
        )
        for first, rows, lo, hi in zip(first_rows, counts, lows, highs, strict=True)
    ]


def after_boundary(
    descending: bool, key_min: int | None, key_max: int | None, boundary: int
) -> tuple[int | None, int | None]:
    """The key range still to cut once a segment (or chunk) ends at `boundary`."""
    return (key_min, boundary - 1) if descending else (boundary + 1, key_max)


def find_boundaries(
    cursor: Cursor[Any], query: ResolvedQuery, tenant_id: str, chunk: ChunkPlan, segments: int
) -> list[int | None]:
    """The last key of each of the first `segments - 1` equal shares of the chunk, walking the
    key index from one boundary to the next (None where the chunk has run out of rows)."""
    share = chunk.row_count // segments
    boundaries: list[int | None] = []
    key_min, key_max = chunk.key_min, chunk.key_max
    for _ in range(segments - 1):
        cursor.execute(sql_builder.nth_key(query, tenant_id, key_min, key_max, share))
        row = cursor.fetchone()
        if row is None or row[0] is None:
            boundaries.append(None)
            break
        boundaries.append(int(row[0]))
        key_min, key_max = after_boundary(query.key_descending, key_min, key_max, int(row[0]))
    return boundaries
