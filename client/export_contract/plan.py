"""The chunk plan: how an export is cut into pieces that can each be redone on their own."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ChunkPlan(BaseModel):
    """One chunk: its rows are `row_count` rows from ordinal `first_row` of the export.

    Key-ordered exports bound a chunk by an inclusive key range (`key_min`..`key_max`, None
    meaning open); others page through the ordered rows by offset under the high-water mark.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    index: int
    first_row: int
    row_count: int
    key_min: int | None = None
    key_max: int | None = None


def plan_by_key(
    total: int, boundaries: list[int], high_water_mark: int, descending: bool, rows_per_chunk: int
) -> list[ChunkPlan]:
    """Chunks bounded by key ranges; `boundaries` are the keys of rows n, 2n, ... in order.

    The last chunk is open towards the end of the key space under the mark, so no row can
    fall between chunks.
    """
    done = len(boundaries) * rows_per_chunk
    row_counts = [rows_per_chunk] * len(boundaries)
    if total > done or not boundaries:
        row_counts.append(total - done)
    else:
        boundaries = boundaries[:-1]  # the export ends at the last boundary
    if descending:
        key_mins: list[int | None] = [*boundaries, None]
        key_maxs: list[int | None] = [high_water_mark, *(b - 1 for b in boundaries)]
    else:
        key_mins = [None, *(b + 1 for b in boundaries)]
        key_maxs = [*boundaries, high_water_mark]
    return [
        ChunkPlan(index=i + 1, first_row=i * rows_per_chunk, row_count=rows, key_min=lo, key_max=hi)
        for i, (rows, lo, hi) in enumerate(zip(row_counts, key_mins, key_maxs, strict=True))
    ]


def plan_by_offset(total: int, rows_per_chunk: int, high_water_mark: int) -> list[ChunkPlan]:
    """Chunks that page through an export ordered by other columns (offset and limit)."""
    starts = range(0, max(total, 1), rows_per_chunk)
    return [
        ChunkPlan(
            index=i + 1,
            first_row=start,
            row_count=min(rows_per_chunk, total - start),
            key_max=high_water_mark,
        )
        for i, start in enumerate(starts)
    ]
