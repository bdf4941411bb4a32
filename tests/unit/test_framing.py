"""Framing turns COPY's rows into files: JSON arrays stay valid whatever the block cuts."""

from __future__ import annotations

import json

from extraction.copy_extractor import CompactJsonFraming, PrettyJsonFraming

ROWS = [b'{"a":1,"s":"x\\ny"}\n', b'{"a":2,"s":"[,]"}\n', b'{"a":3,"s":null}\n']


def frame_compact(blocks: list[bytes]) -> bytes:
    framing = CompactJsonFraming()
    out = framing.head
    for i, block in enumerate(blocks):
        out += framing.block(block, first=i == 0)
    return out + framing.tail


def test_compact_json_is_one_array_however_rows_fall_into_blocks() -> None:
    for cut in range(len(ROWS) + 1):
        blocks = [b"".join(ROWS[:cut]), b"".join(ROWS[cut:])]
        text = frame_compact([b for b in blocks if b])
        assert json.loads(text) == [json.loads(r) for r in ROWS]


def test_pretty_rows_are_unwrapped_from_copys_quote_byte() -> None:
    framing = PrettyJsonFraming()
    quoted = [b'\x01{"a":1,\n "b":"q"}\x01\n', b'\x01{"a":2,\n "b":null}\x01\n']
    body = b"".join(bytes(framing.row(memoryview(r))) for r in quoted)
    assert json.loads(framing.head + body + framing.tail) == [
        {"a": 1, "b": "q"},
        {"a": 2, "b": None},
    ]


def test_an_empty_json_file_is_an_empty_array() -> None:
    assert json.loads(CompactJsonFraming().empty()) == []
    assert json.loads(PrettyJsonFraming().empty()) == []
