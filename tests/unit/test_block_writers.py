"""Writers hash what lands on disk, and compressed files decompress to what was written."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest
import zstandard

from extraction.block_writers import open_writer, stored_name

BLOCKS = [b"id,notes\n", b'1,"caf\xc3\xa9"\n' * 50_000, b"", b"2,\n"]


def decompress(compression: str, data: bytes) -> bytes:
    if compression == "GZIP":
        return gzip.decompress(data)
    if compression == "ZSTD":
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data


@pytest.mark.parametrize("compression", ["NONE", "GZIP", "ZSTD"])
def test_the_file_holds_the_blocks_and_its_checksum_is_reported(
    tmp_path: Path, compression: str
) -> None:
    path = tmp_path / stored_name("part-00001.csv", compression)
    writer = open_writer(path, compression)
    for block in BLOCKS:
        writer.write(block)
    size, digest = writer.close()
    stored = path.read_bytes()
    assert decompress(compression, stored) == b"".join(BLOCKS)
    assert (size, digest) == (len(stored), hashlib.sha256(stored).hexdigest())
    if compression != "NONE":
        assert size < len(b"".join(BLOCKS)) / 10


def test_gzip_output_is_the_same_for_the_same_input(tmp_path: Path) -> None:
    digests = set()
    for name in ("a.gz", "b.gz"):
        writer = open_writer(tmp_path / name, "GZIP")
        writer.write(b"same bytes\n" * 1000)
        digests.add(writer.close()[1])
    assert len(digests) == 1


def test_names_say_the_compression() -> None:
    assert stored_name("part-00001.csv", "GZIP") == "part-00001.csv.gz"
    assert stored_name("part-00001.ndjson", "ZSTD") == "part-00001.ndjson.zst"
    assert stored_name("part-00001.json", "NONE") == "part-00001.json"
