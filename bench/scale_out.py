"""Benchmark: 1, 2 and 4 worker processes, on one large export and on ten at once.

For each worker count the stack's workers are restarted (`EXPORT_WORKERS=N`), and each
contender is timed from the commands sent to the last completion notice:
- one CSV export of ROWS rows in files of FILE_ROWS (so its chunks can run on every worker);
- ten CSV exports of ROWS / 10 rows each, from ten users, sent at once.
Each run prints rows per second, and the share of the machine's CPU that PostgreSQL's
processes and the workers used meanwhile (from /proc), which shows where the bound is: once
PostgreSQL takes all the cores, more workers only queue behind it.

    .venv-bench/bin/python bench/scale_out.py [--rows 3000000] [--workers 1,2,4]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from harness import ROOT, TENANT, run_service, seed_for, stack, trades_request

from config.settings import Settings
from export_client.kafka_client import ExportClient

FILE_ROWS = 500_000
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Run:
    workers: int
    case: str
    rows: int
    seconds: float
    postgres_share: float
    workers_share: float


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue  # a PostgreSQL backend that ended
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


class PostgresCpu:
    """PostgreSQL's CPU seconds over a span, sampled every 0.1 s on a thread: each chunk
    opens a backend of its own and closes it when done, so reading the processes only at
    the start and the end would miss most of the work."""

    def __init__(self) -> None:
        self._first: dict[int, float] = {pid: cpu_seconds([pid]) for pid in postgres_pids()}
        self._last = dict(self._first)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            for pid in postgres_pids():
                self._first.setdefault(pid, 0.0)  # started during the span
                self._last[pid] = cpu_seconds([pid]) or self._last.get(pid, 0.0)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return sum(self._last[pid] - self._first[pid] for pid in self._last)


def postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def worker_pids(count: int) -> list[int]:
    return [
        int((ROOT / f".stack/pids/worker-{n}.pid").read_text().strip()) for n in range(1, count + 1)
    ]


def start_workers(settings: Settings, count: int) -> None:
    os.environ["EXPORT_WORKERS"] = str(count)
    stack("restart-services")
    deadline = time.monotonic() + 120
    for n in range(count):
        url = f"http://127.0.0.1:{settings.worker_http_port + n}/readyz"
        while True:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker {n + 1} not ready")
            time.sleep(0.5)
    run_service(settings, 10, "CSV")  # joined and warm


def timed(workers: int, case: str, exports: list[tuple[str, dict[str, Any]]]) -> Run:
    """Send every export at once, wait for every notice; CPU shares over the same span."""
    client = ExportClient(Settings.from_env().kafka_bootstrap_servers)
    postgres = PostgresCpu()
    workers_before = cpu_seconds(worker_pids(workers))
    started = time.perf_counter()
    jobs = [client.request_export(TENANT, user, body) for user, body in exports]
    rows = 0
    for job_id in jobs:
        notice = client.wait_for_completion(job_id, timeout=3600)
        if notice.status.value != "COMPLETED":
            raise RuntimeError(f"{case}: export ended {notice.status}: {notice.error_message}")
        rows += notice.total_rows
    seconds = time.perf_counter() - started
    postgres_cpu = postgres.stop()
    workers_cpu = cpu_seconds(worker_pids(workers)) - workers_before
    client.close()
    machine = seconds * (os.cpu_count() or 1)
    return Run(workers, case, rows, seconds, postgres_cpu / machine, workers_cpu / machine)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    settings = Settings.from_env()
    seed_for(args.rows)
    runs: list[Run] = []
    for count in [int(n) for n in args.workers.split(",")]:
        start_workers(settings, count)
        one = [(str(uuid.uuid4()), trades_request(args.rows, "CSV", maxRowsPerFile=FILE_ROWS))]
        runs.append(timed(count, "one export", one))
        tenth = args.rows // 10
        ten = [
            (str(uuid.uuid4()), trades_request(tenth, "CSV", maxRowsPerFile=tenth))
            for _ in range(10)
        ]
        runs.append(timed(count, "ten at once", ten))
    os.environ.pop("EXPORT_WORKERS")
    stack("restart-services")
    print(
        f"\n{'workers':>7} {'case':<12} {'rows':>11} {'seconds':>8} {'rows/s':>10} "
        f"{'vs 1 worker':>11} {'PostgreSQL CPU':>15} {'workers CPU':>12}"
    )
    first = {r.case: r for r in runs if r.workers == runs[0].workers}
    for r in runs:
        speedup = (r.rows / r.seconds) / (first[r.case].rows / first[r.case].seconds)
        print(
            f"{r.workers:>7} {r.case:<12} {r.rows:>11,} {r.seconds:>8.2f} "
            f"{r.rows / r.seconds:>10,.0f} {speedup:>10.2f}x {r.postgres_share:>14.0%} "
            f"{r.workers_share:>11.0%}"
        )
    print(f"CPU shares are of the whole machine ({os.cpu_count()} cores) over each run.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
