"""The xlsx writer's ZIP: entries deflated ahead read back with zipfile, ZIP64 included."""

from __future__ import annotations

import io
import os
import random
import zipfile
import zlib
from pathlib import Path

import pytest

from extraction import zip_writer
from extraction.zip_writer import ZipWriter, crc32_combine, stored_block


@pytest.mark.parametrize("sizes", [(0, 0), (10, 0), (0, 7), (1, 1), (1000, 65_537), (3, 1 << 20)])
def test_crc32_combine_gives_the_crc_of_both_parts(sizes: tuple[int, int]) -> None:
    first, second = (os.urandom(n) for n in sizes)
    combined = crc32_combine(zlib.crc32(first), zlib.crc32(second), len(second))
    assert combined == zlib.crc32(first + second)


def test_a_stored_head_and_a_deflated_body_inflate_as_one_stream() -> None:
    head = b"<head>" * 20_000  # more than one stored block
    body = b"<row/>" * 50_000
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    stream = stored_block(head) + compressor.compress(body) + compressor.flush()
    assert zlib.decompress(stream, -15) == head + body


def write_entries(out: io.BytesIO, folder: Path) -> dict[str, bytes]:
    rng = random.Random(7)
    small = b"<workbook/>"
    head, body = b"<worksheet>", bytes(rng.getrandbits(8) for _ in range(100_000)) * 3
    compressor = zlib.compressobj(1, zlib.DEFLATED, -15)
    with open(folder / "body.deflate", "w+b") as rest:
        rest.write(compressor.compress(body) + compressor.flush())
        writer = ZipWriter(out)
        writer.add("xl/workbook.xml", small, 6)
        crc = crc32_combine(zlib.crc32(head), zlib.crc32(body), len(body))
        writer.add_deflated(
            "xl/worksheets/sheet1.xml", crc, len(head) + len(body), [stored_block(head)], rest
        )
        writer.add("[Content_Types].xml", b"<Types/>", 6)
        writer.close()
    return {
        "xl/workbook.xml": small,
        "xl/worksheets/sheet1.xml": head + body,
        "[Content_Types].xml": b"<Types/>",
    }


def test_entries_read_back_with_zipfile(tmp_path: Path) -> None:
    out = io.BytesIO()
    expected = write_entries(out, tmp_path)
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None
        assert {name: archive.read(name) for name in archive.namelist()} == expected
        assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in archive.infolist())


def test_past_the_zip64_limit_sizes_and_offsets_move_to_zip64_fields(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every size and offset past 100 bytes counts as too large for the 32-bit fields.
    monkeypatch.setattr(zip_writer, "ZIP64_LIMIT", 100)
    out = io.BytesIO()
    expected = write_entries(out, tmp_path)
    assert b"PK\x06\x06" in out.getvalue()  # the ZIP64 end of central directory
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None
        assert {name: archive.read(name) for name in archive.namelist()} == expected
