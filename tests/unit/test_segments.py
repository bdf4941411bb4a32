"""Cutting a chunk into segments for several COPY streams: every key of the chunk falls in
exactly one segment, in export order, and only key-range chunks large enough are cut."""

from __future__ import annotations

import uuid

import pytest

from domain.validation import ResolvedQuery, validate_request
from export_contract.plan import ChunkPlan
from extraction.segments import StreamPolicy, split_chunk, wanted_streams
from extraction.stream_slots import export_class


def covers(segment: ChunkPlan, key: int) -> bool:
    return (segment.key_min is None or key >= segment.key_min) and (
        segment.key_max is None or key <= segment.key_max
    )


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("key_min", [None, 101])
def test_every_key_of_the_chunk_is_in_exactly_one_segment_in_order(
    descending: bool, key_min: int | None
) -> None:
    chunk = ChunkPlan(index=2, first_row=1000, row_count=900, key_min=key_min, key_max=1000)
    # The keys that end the first two of three segments, in export order.
    boundaries: list[int | None] = [700, 400] if descending else [400, 700]
    segments = split_chunk(chunk, boundaries, descending)

    assert [s.index for s in segments] == [2, 2, 2]
    assert [s.row_count for s in segments] == [300, 300, 300]
    assert [s.first_row for s in segments] == [1000, 1300, 1600]
    keys = range(key_min or 0, 1001)
    assert all(sum(covers(s, k) for s in segments) == 1 for k in keys)
    order = sorted(keys, reverse=descending)
    firsts = [next(i for i, k in enumerate(order) if covers(s, k)) for s in segments]
    assert firsts == sorted(firsts), "segments follow the export's order"


def test_a_chunk_that_ran_out_of_rows_is_read_whole() -> None:
    chunk = ChunkPlan(index=1, first_row=0, row_count=900, key_max=1000)
    assert split_chunk(chunk, [400, None], descending=False) == [chunk]


def query(order: list[dict[str, str]]) -> ResolvedQuery:
    body = {
        "name": "q",
        "queryDefinition": {"source": "fact_trades", "columns": [{"name": "id"}], "orderBy": order},
        "format": "CSV",
    }
    return validate_request(body)[1]


@pytest.mark.parametrize(
    ("rows", "order", "streams"),
    [
        (1_000_000, [], 4),
        (1_000_000, [{"column": "id", "direction": "DESC"}], 4),
        (500_000, [], 2),
        (399_999, [], 1),
        (1_000_000, [{"column": "price"}], 1),
    ],
)
def test_streams_follow_the_rows_and_only_key_ranges_are_cut(
    rows: int, order: list[dict[str, str]], streams: int
) -> None:
    policy = StreamPolicy(per_chunk=4, min_rows_per_stream=200_000)
    chunk = ChunkPlan(index=1, first_row=0, row_count=rows, key_max=10**9)
    assert wanted_streams(chunk, 1, query(order), policy) == streams


@pytest.mark.parametrize(
    ("chunks", "streams_by_chunk"),
    [
        (1, [4]),
        (2, [2, 4]),
        (3, [1, 2, 4]),
        (9, [1, 1, 1, 1, 1, 1, 1, 2, 4]),
    ],
)
def test_the_chunks_of_one_export_share_its_slots_and_the_last_ones_split_them(
    chunks: int, streams_by_chunk: list[int]
) -> None:
    policy = StreamPolicy(per_chunk=4, per_export=4, min_rows_per_stream=200_000)
    wanted = [
        wanted_streams(
            ChunkPlan(index=i, first_row=0, row_count=1_000_000), chunks, query([]), policy
        )
        for i in range(1, chunks + 1)
    ]
    assert wanted == streams_by_chunk


def test_export_classes_are_signed_32_bit_and_stable() -> None:
    ids = [str(uuid.uuid4()) for _ in range(1000)]
    classes = [export_class(i) for i in ids]
    assert all(-(2**31) <= c < 2**31 for c in classes)
    assert [export_class(i) for i in ids] == classes
