"""Compresses one finished chunk file with gzip or zstd, streaming in blocks."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path
from typing import BinaryIO

import zstandard

from extraction.copy_extractor import ExtractedFile
from extraction.store import hash_file, partial_path, publish

SUFFIXES = {"GZIP": ".gz", "ZSTD": ".zst"}
BLOCK = 1 << 20
# Fast levels: the point is smaller downloads at close to extraction speed.
GZIP_LEVEL = 1
ZSTD_LEVEL = 3


class _Hashing:
    """A file wrapper that hashes and counts what is written through it."""

    def __init__(self, target: BinaryIO) -> None:
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.target.write(data)
        self.digest.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        self.target.flush()


def compressed_path(source: Path, compression: str) -> Path:
    return source.with_name(source.name + SUFFIXES[compression])


def compress_file(source: Path, compression: str, rows: int) -> ExtractedFile:
    """Write `source` compressed beside it, then remove `source`.

    Safe to redo: when a crash came after the source was removed, the compressed file is
    already complete (it was published first) and is described again.
    """
    target = compressed_path(source, compression)
    if not source.exists() and target.exists():
        digest, size = hash_file(target)
        return ExtractedFile(target, rows, size, digest)
    partial = partial_path(target)
    with open(source, "rb") as plain, open(partial, "wb") as raw:
        out = _Hashing(raw)
        if compression == "GZIP":
            # mtime=0 and no name keep the output the same for the same input.
            with gzip.GzipFile(
                fileobj=out,
                mode="wb",
                compresslevel=GZIP_LEVEL,
                mtime=0,
                filename="",
            ) as packed:
                while block := plain.read(BLOCK):
                    packed.write(block)
        else:
            compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
            with compressor.stream_writer(out, closefd=False) as packed:  # type: ignore[arg-type]
                while block := plain.read(BLOCK):
                    packed.write(block)
    publish(partial, target)
    source.unlink()
    return ExtractedFile(target, rows, out.size, out.digest.hexdigest())
