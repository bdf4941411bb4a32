"""The local export store: a folder per tenant and job, files written whole or not at all."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from uuid import uuid4


def job_dir(store_dir: Path, tenant_id: str, job_id: str) -> Path:
    return store_dir / tenant_id / job_id


def partial_path(final: Path) -> Path:
    """Where a file is written before it is complete; never served. Unique per writer: a chunk
    redelivered while its first copy still runs (at-least-once) writes beside it, and the
    copy that finishes last replaces the same rows with the same bytes."""
    return final.with_name(f"{final.name}.{uuid4().hex[:12]}.partial")


def remove_chunk_files(done: list[Path], partial: Path) -> None:
    """A chunk is reported whole or not at all: remove its finished files and its partial."""
    partial.unlink(missing_ok=True)
    for path in done:
        path.unlink(missing_ok=True)


def publish(partial: Path, final: Path) -> None:
    """Make a fully written file visible under its final name, atomically and durably."""
    with open(partial, "rb") as handle:
        os.fsync(handle.fileno())
    rename(partial, final)


def rename(source: Path, final: Path) -> None:
    """Give a file that is already on disk durably a new name."""
    os.replace(source, final)
    directory = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def hash_file(path: Path) -> tuple[str, int]:
    """SHA-256 and size of a file, read in blocks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size
