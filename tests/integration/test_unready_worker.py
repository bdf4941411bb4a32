"""A worker that never becomes ready, though nothing tells it the broker is down, exits with
code 4 after EXPORT_UNREADY_SECONDS, saying what held it back, so that its supervisor starts
a fresh one. Its "broker" accepts connections and never answers, so the worker stays in its
first start, before Faust runs its timers: the state no stall guard can see."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.worker import EXIT_UNREADY

# Worker 9: a data folder and health port of its own (18089 on the local stack), apart from
# the stack's workers.
WORKER_ID = "9"


@pytest.fixture
def silent_broker() -> Iterator[str]:
    """A listening socket that takes every connection and never sends a byte."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            held.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    server.close()


def test_a_worker_unready_for_too_long_exits_for_a_fresh_start(
    silent_broker: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": silent_broker,
        "EXPORT_WORKER_ID": WORKER_ID,
        "EXPORT_WORKER_DATA_DIR": str(tmp_path),
        "EXPORT_UNREADY_SECONDS": "8",
    }
    started = time.monotonic()
    worker = subprocess.run(
        [sys.executable, "-m", "agents", "worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    seconds = time.monotonic() - started
    log = worker.stderr
    assert worker.returncode == EXIT_UNREADY, log[-3000:]
    assert 8 <= seconds < 60
    [warning] = [line for line in log.splitlines() if "the worker exits if this lasts 8 s" in line]
    assert "kafka: the broker has not answered yet" in warning
    [error] = [line for line in log.splitlines() if "so that a new one takes over" in line]
    assert '"level": "ERROR"' in error and "group: not yet a member" in error
