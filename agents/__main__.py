"""`python -m agents worker` (or `export-worker`): a worker process running every agent.

The worker's number (`EXPORT_WORKER_ID`, 1 by default) names its data folder, its Kafka
client ids and its health port. Logs go to stderr as JSON lines, or as text with
`EXPORT_LOG_FORMAT=text`.
"""

from __future__ import annotations

import ctypes
import os
import sys

import faust

from agents.worker import build_worker
from config.settings import Settings, refuse_unsafe_start
from observability.logs import logging_config


def main() -> None:
    # Options after `worker` (from older start scripts, such as --loglevel) are not needed:
    # the settings say how to log.
    if len(sys.argv) < 2 or sys.argv[1] != "worker":
        sys.exit("usage: python -m agents worker")
    run_worker()


def run_worker() -> None:
    """The `export-worker` console script."""
    # Arrow's allocator for Parquet and Excel: the C library's malloc, not mimalloc (Arrow's
    # default here). Measured on 1M rows into Parquet in one process: peak RSS 155-159 MB
    # against 195 MB, at the same speed; glibc gives large blocks straight back to the
    # kernel, and an extractor's batches and row groups are large blocks used once. Read
    # when pyarrow is first imported, which happens later, at a worker's first Arrow export.
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    _one_malloc_arena()
    refuse_unsafe_start("worker")
    settings = Settings.from_env()
    worker = build_worker(settings, os.environ.get("EXPORT_WORKER_ID", "1"))
    faust.Worker(
        worker.app,
        *worker.services_before_app(),
        loglevel=settings.log_level,
        logging_config=logging_config(settings.log_format, settings.log_level),
        # No banner or spinner on stdout: every line the worker writes is a log record.
        quiet=True,
        redirect_stdouts=False,
    ).execute_from_commandline()


# mallopt's parameter for the most arenas glibc may create (malloc.h).
_M_ARENA_MAX = -8


def _one_malloc_arena() -> None:
    """Let every thread allocate from one glibc arena. An Arrow chunk is read on one thread
    and encoded on another, and extractors, compressors and COPY streams have threads of
    their own: with an arena per thread, blocks freed by one thread sit unused in another's
    arena, and a worker's peak grew with the rows (Parquet: 254 MB at 1M rows, 290 to 380 MB
    at 3M). With one arena it was 208 MB at 1M and 217 MB at 3M, at the same speed. Set
    before any thread starts; elsewhere than glibc (musl, macOS) there is nothing to set."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(_M_ARENA_MAX, 1)


if __name__ == "__main__":
    main()
