"""stack/supervise.py: the backoff rule, and the real supervisor run over a dummy child."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from stack.supervise import MAX_DELAY, describe_exit, log_line, next_delay
from tests.processes import alive, cmdline

SUPERVISE = Path(__file__).resolve().parents[2] / "stack" / "supervise.py"

# The dummy child: `exit CODE AFTER` exits with CODE after AFTER seconds; `serve MARKS` notes
# the signals it gets in the file MARKS and exits 0 on SIGTERM; `stubborn MARKS` ignores
# SIGTERM and SIGINT. The last two write "ready" once their handlers are in place.
CHILD = """
import os, signal, sys, time
mode = sys.argv[1]
if mode == "exit":
    time.sleep(float(sys.argv[3]))
    sys.exit(int(sys.argv[2]))
marks = sys.argv[2]
def note(word):
    with open(marks, "a") as f:
        f.write(word + "\\n")
def on_term(signum, frame):
    note("TERM")
    sys.exit(0)
signal.signal(signal.SIGUSR1, lambda signum, frame: note("USR1"))
signal.signal(signal.SIGTERM, signal.SIG_IGN if mode == "stubborn" else on_term)
if mode == "stubborn":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
note("ready")
while True:
    time.sleep(0.05)
"""


def test_the_delay_doubles_from_one_second_to_thirty() -> None:
    delays = []
    delay = None
    for _ in range(8):
        delay = next_delay(delay, ran_for=0.5)
        delays.append(delay)
    assert delays == [1, 2, 4, 8, 16, 30, 30, 30]
    assert MAX_DELAY == 30


def test_a_child_that_got_past_its_start_starts_the_backoff_afresh() -> None:
    assert next_delay(16, ran_for=19.9) == 30
    assert next_delay(16, ran_for=20) == 1
    assert next_delay(30, ran_for=3600) == 1


def test_a_child_stopped_from_outside_is_back_after_a_second_however_short_its_run() -> None:
    assert next_delay(16, ran_for=2, returncode=-9) == 1  # SIGKILL
    assert next_delay(16, ran_for=2, returncode=0) == 1  # SIGTERM, handled: a clean exit
    assert next_delay(16, ran_for=2, returncode=3) == 30  # the worker gave up: it failed


def test_log_lines_are_json_in_the_service_shape() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    line = json.loads(log_line("WARNING", "w exited with code 70; restarting in 1 s", now))
    assert line == {
        "time": "2026-01-02T03:04:05.678Z",
        "level": "WARNING",
        "logger": "supervisor",
        "message": "w exited with code 70; restarting in 1 s",
    }


def test_exits_are_described_by_code_or_signal() -> None:
    assert describe_exit(70) == "exited with code 70"
    assert describe_exit(0) == "exited with code 0"
    assert describe_exit(-signal.SIGKILL) == "was killed by SIGKILL"


# The real supervisor, as a process


class Run:
    """A supervisor started over the dummy child, its stdout in a file."""

    def __init__(self, tmp: Path, *child_args: str, stop_timeout: float = 20) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        self.tmp = tmp
        self.pid_file = tmp / "pids" / "dummy.pid"
        self.marks = tmp / "marks"
        self.out = tmp / "supervisor.log"
        child = tmp / "child.py"
        child.write_text(CHILD)
        args = [a.replace("MARKS", str(self.marks)) for a in child_args]
        with self.out.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    str(SUPERVISE),
                    "--name",
                    "dummy",
                    "--pid-file",
                    str(self.pid_file),
                    "--stop-timeout",
                    str(stop_timeout),
                    "--",
                    sys.executable,
                    str(child),
                    *args,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def lines(self) -> list[dict[str, Any]]:
        """The supervisor's log lines (the child writes nothing to stdout)."""
        text = self.out.read_text() if self.out.exists() else ""
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    def messages(self) -> list[str]:
        return [line["message"] for line in self.lines()]

    def started_pids(self) -> list[int]:
        return [
            int(m.rsplit("(pid ", 1)[1].rstrip(")")) for m in self.messages() if " started " in m
        ]

    def marks_seen(self) -> list[str]:
        return self.marks.read_text().split() if self.marks.exists() else []

    def pid_in_file(self) -> int | None:
        try:
            return int(self.pid_file.read_text())
        except (OSError, ValueError):
            return None

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout)


@pytest.fixture
def runs(tmp_path: Path) -> Iterator[Callable[..., Run]]:
    started: list[Run] = []

    def start(*child_args: str, stop_timeout: float = 20) -> Run:
        run = Run(tmp_path / str(len(started)), *child_args, stop_timeout=stop_timeout)
        started.append(run)
        return run

    yield start
    for run in started:  # a failed test must not leave a supervisor or child behind
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait()
        pid = run.pid_in_file()
        if pid is not None and alive(pid):
            os.kill(pid, signal.SIGKILL)


def wait_until(condition: Callable[[], object], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {condition}")
        time.sleep(0.02)


def test_a_child_that_exits_is_restarted_with_a_new_pid_in_the_pid_file(
    runs: Callable[..., Run],
) -> None:
    run = runs("exit", "70", "1")
    wait_until(lambda: len(run.started_pids()) == 1)
    first = run.started_pids()[0]
    assert run.pid_in_file() == first
    assert "child.py exit 70" in cmdline(first), "the pid file names the child, not the supervisor"

    wait_until(lambda: len(run.started_pids()) == 2, timeout=10)
    second = run.started_pids()[1]
    assert second != first
    assert run.pid_in_file() == second
    assert "dummy exited with code 70; restarting in 1 s" in run.messages()
    assert {line["level"] for line in run.lines()} == {"INFO", "WARNING"}
    assert all(line["logger"] == "supervisor" for line in run.lines())

    run.signal(signal.SIGTERM)
    assert run.wait(10) == 0
    assert not alive(second)
    assert len(run.started_pids()) == 2, "no restart after SIGTERM"
    assert not run.pid_file.exists()


def test_quick_exits_back_off_and_sigterm_ends_the_wait(runs: Callable[..., Run]) -> None:
    run = runs("exit", "3", "0")
    wait_until(lambda: any("restarting in 2 s" in m for m in run.messages()))
    assert [m for m in run.messages() if "restarting" in m] == [
        "dummy exited with code 3; restarting in 1 s",
        "dummy exited with code 3; restarting in 2 s",
    ]
    stopped_at = time.monotonic()
    run.signal(signal.SIGTERM)
    assert run.wait(10) == 0
    assert time.monotonic() - stopped_at < 1.5, "the backoff is cut short"
    assert len(run.started_pids()) == 2


def test_sigterm_stops_the_child_and_the_supervisor_without_a_restart(
    runs: Callable[..., Run],
) -> None:
    run = runs("serve", "MARKS")
    wait_until(lambda: "ready" in run.marks_seen())
    child = run.started_pids()[0]
    assert run.pid_in_file() == child

    run.signal(signal.SIGUSR1)
    wait_until(lambda: "USR1" in run.marks_seen())
    assert alive(child), "SIGUSR1 is passed on, not a reason to stop"

    run.signal(signal.SIGTERM)
    assert run.wait(10) == 0
    assert run.marks_seen() == ["ready", "USR1", "TERM"]
    assert not alive(child)
    assert run.started_pids() == [child]
    assert run.messages()[-1] == "dummy stopped (exited with code 0)"


def test_a_child_that_ignores_sigterm_is_killed_after_the_stop_timeout(
    runs: Callable[..., Run],
) -> None:
    run = runs("stubborn", "MARKS", stop_timeout=1)
    wait_until(lambda: "ready" in run.marks_seen())
    child = run.started_pids()[0]
    run.signal(signal.SIGINT)
    assert run.wait(10) == 0
    assert not alive(child)
    assert f"dummy did not stop in 1 s; killing it (pid {child})" in run.messages()
    assert run.messages()[-1] == "dummy stopped (was killed by SIGKILL)"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_killed_supervisor_takes_its_child_with_it(runs: Callable[..., Run]) -> None:
    run = runs("serve", "MARKS")
    wait_until(lambda: "ready" in run.marks_seen())
    child = run.started_pids()[0]
    run.signal(signal.SIGKILL)
    run.wait(10)
    wait_until(lambda: "TERM" in run.marks_seen())
    wait_until(lambda: not alive(child))


def test_a_command_that_cannot_start_ends_the_supervisor(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SUPERVISE), "--name", "dummy", "--", str(tmp_path / "nothing")],
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert result.returncode == 127
    line = json.loads(result.stdout)
    assert line["level"] == "ERROR"
    assert line["message"].startswith("dummy cannot be started: ")
