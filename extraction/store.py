"""The local export store: a folder per tenant and job, files written whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path


def job_dir(store_dir: Path, tenant_id: str, job_id: str) -> Path:
    return store_dir / tenant_id / job_id


def partial_path(final: Path) -> Path:
    """Where a file is written before it is complete; never served."""
    return final.with_name(final.name + ".partial")


def publish(partial: Path, final: Path) -> None:
    """Make a fully written file visible under its final name, atomically and durably."""
    with open(partial, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, final)
    directory = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
