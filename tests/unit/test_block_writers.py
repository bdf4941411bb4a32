"""Writers hash what lands on disk, and compressed files decompress to what was written."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
import zstandard

from extraction.block_writers import open_writer, stored_name

BLOCKS = [b"id,notes\n", b'1,"caf\xc3\xa9"\n' * 50_000, b"", b"2,\n"]


def decompress(compression: str, data: bytes) -> bytes:
    if compression == "GZIP":
        return gzip.decompress(data)
    if compression == "ZSTD":
        return zstandard.ZstdDecompressor().decompressobj(read_across_frames=True).decompress(data)
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


@pytest.mark.parametrize("compression", ["NONE", "GZIP", "ZSTD"])
def test_appended_spools_join_the_file_and_the_stock_tools_read_it_whole(
    tmp_path: Path, compression: str
) -> None:
    """Another stream's spool, compressed alike, follows what was written: one gzip member or
    zstd frame after another, which `gzip -d` and `zstd -d` read as one stream."""
    spools = []
    for n, content in enumerate([b"2,b\n" * 1000, b"", b"3,c\n" * 1000]):
        spool = tmp_path / f"spool-{n}"
        writer = open_writer(spool, compression, hashed=False)
        writer.write(content)
        assert writer.close()[1] == ""
        spools.append(spool)
    path = tmp_path / stored_name("part-00001.csv", compression)
    writer = open_writer(path, compression)
    writer.write(b"1,a\n")
    for spool in spools:
        writer.append_file(spool)
    writer.write(b"4,d\n")
    size, digest = writer.close()

    stored = path.read_bytes()
    expected = b"1,a\n" + b"2,b\n" * 1000 + b"3,c\n" * 1000 + b"4,d\n"
    assert decompress(compression, stored) == expected
    assert (size, digest) == (len(stored), hashlib.sha256(stored).hexdigest())
    assert not any(spool.exists() for spool in spools), "appended spools are removed"
    tool = {"GZIP": "gzip", "ZSTD": "zstd"}.get(compression)
    if tool and shutil.which(tool):
        command = [tool, "-dcq" if tool == "zstd" else "-dc", str(path)]
        assert subprocess.run(command, check=True, capture_output=True).stdout == expected


@pytest.mark.parametrize("compression", ["GZIP", "ZSTD"])
def test_an_empty_compressed_file_is_still_valid(tmp_path: Path, compression: str) -> None:
    path = tmp_path / "empty"
    open_writer(path, compression).close()
    assert decompress(compression, path.read_bytes()) == b""
