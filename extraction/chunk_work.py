"""One chunk to extract, as every format's writer takes it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from domain.validation import ResolvedQuery
from export_contract.plan import ChunkPlan
from extraction.progress import ProgressPolicy, ProgressReporter
from extraction.segments import ONE_STREAM, StreamPolicy


@dataclass(frozen=True)
class ChunkWork:
    """Where the rows come from, which rows, where they go and how progress is told."""

    conninfo: str
    tenant_id: str
    query: ResolvedQuery
    chunk: ChunkPlan
    # The stored path of the chunk's file number n (from 1); more than one only when a size
    # limit splits the chunk.
    name_for: Callable[[int], Path]
    on_progress: Callable[[int], None]
    policy: ProgressPolicy
    compression: str = "NONE"
    max_file_bytes: int | None = None
    # The export the chunk belongs to, how many chunks it has, and how many COPY streams it
    # may read with.
    job_id: str = ""
    chunks_in_export: int = 1
    streams: StreamPolicy = ONE_STREAM

    def reporter(self) -> ProgressReporter:
        return ProgressReporter(self.on_progress, self.policy, self.chunk.row_count)
