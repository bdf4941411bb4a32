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


PRETTY_ROWS = [
    b'\x01{"a":1,\n "b":"q"}\x01\n',
    b'\x01{"a":2,\n "b":null}\x01\n',
    b'{"a":3}\n',
]
PRETTY_VALUES = [{"a": 1, "b": "q"}, {"a": 2, "b": None}, {"a": 3}]


def frame_pretty(rows: list[bytes], first: bool) -> bytes:
    framing = PrettyJsonFraming()
    return framing.block(b"".join(bytes(framing.row(memoryview(r))) for r in rows), first)


def test_pretty_rows_are_unwrapped_from_copys_quote_byte() -> None:
    framing = PrettyJsonFraming()
    body = frame_pretty(PRETTY_ROWS, first=True)
    assert json.loads(framing.head + body + framing.tail) == PRETTY_VALUES


def test_pretty_files_start_anywhere_in_the_rows() -> None:
    """A size limit starts a new file at any row, and a later stream's rows continue a file:
    each file is still one valid array."""
    framing = PrettyJsonFraming()
    for cut in range(1, len(PRETTY_ROWS)):
        first_file = framing.head + frame_pretty(PRETTY_ROWS[:cut], True) + framing.tail
        second_file = framing.head + frame_pretty(PRETTY_ROWS[cut:], True) + framing.tail
        assert json.loads(first_file) + json.loads(second_file) == PRETTY_VALUES
        continued = frame_pretty(PRETTY_ROWS[:cut], True) + frame_pretty(PRETTY_ROWS[cut:], False)
        assert json.loads(framing.head + continued + framing.tail) == PRETTY_VALUES


def test_an_empty_json_file_is_an_empty_array() -> None:
    assert json.loads(CompactJsonFraming().empty()) == []
    assert json.loads(PrettyJsonFraming().empty()) == []
