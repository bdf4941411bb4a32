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

    @property
    def file_name(self) -> str:
        return f"part-{self.index:05d}.csv"


def plan_by_key(
    total: int, boundaries: list[int], high_water_mark: int, descending: bool, rows_per_chunk: int
) -> list[ChunkPlan]:
    """Chunks bounded by key ranges; `boundaries` are the keys of rows n, 2n, ... in order."""
    chunks: list[ChunkPlan] = []
    lower: int | None = None if not descending else high_water_mark
    for i, boundary in enumerate(boundaries):
        if descending:
            chunks.append(
                ChunkPlan(
                    index=i + 1,
                    first_row=i * rows_per_chunk,
                    row_count=rows_per_chunk,
                    key_min=boundary,
                    key_max=lower,
                )
            )
            lower = boundary - 1
        else:
            chunks.append(
                ChunkPlan(
                    index=i + 1,
                    first_row=i * rows_per_chunk,
                    row_count=rows_per_chunk,
                    key_min=lower,
                    key_max=boundary,
                )
            )
            lower = boundary + 1
    done = len(boundaries) * rows_per_chunk
    if total > done or not chunks:
        rest = ChunkPlan(
            index=len(chunks) + 1,
            first_row=done,
            row_count=total - done,
            key_min=None if descending else lower,
            key_max=lower if descending else high_water_mark,
        )
        chunks.append(rest)
    # The last chunk runs to the end of the key space under the mark, so nothing falls between.
    last = chunks[-1]
    if descending:
        chunks[-1] = last.model_copy(update={"key_min": None})
    else:
        chunks[-1] = last.model_copy(update={"key_max": high_water_mark})
    return chunks


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
