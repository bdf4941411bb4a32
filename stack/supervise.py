"""Run a command as a child and restart it whenever it exits, as a process supervisor would.

    python stack/supervise.py --name worker-1 --pid-file .stack/pids/worker-1.pid -- CMD...

The child's pid (not the supervisor's) is written to `--pid-file` at every start, so that
signals sent to the pid in that file reach the child itself. Restarts back off from 1 s,
doubling to at most 30 s while it keeps failing; a child that ran for 20 s or more, or was
stopped (killed by a signal, or exited 0), starts the backoff afresh.
SIGTERM or SIGINT is passed on to the child, which gets `--stop-timeout` seconds to exit
before SIGKILL; the supervisor then exits 0 without restarting it. SIGUSR1 is passed on.
On Linux the child gets SIGTERM when the supervisor dies, so a killed supervisor leaves no
child running on its own. Each event is one JSON line on stdout, in the shape of the
service's own log lines. Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

INITIAL_DELAY = 1.0
MAX_DELAY = 30.0
# A child that stayed up this long got past its start (a worker starts in a few seconds):
# its next exit is a fresh failure, not a crash loop, and it is restarted after 1 s again.
RESET_AFTER = 20.0
STOP_TIMEOUT = 20.0
# Exit code when the command cannot be started at all (as a shell says "not found").
CANNOT_START = 127
PR_SET_PDEATHSIG = 1
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
FORWARDED_SIGNALS = (*STOP_SIGNALS, signal.SIGUSR1)


def next_delay(previous: float | None, ran_for: float, returncode: int = 1) -> float:
    """Seconds to wait before the next start: `INITIAL_DELAY` after the first exit, after a
    child that ran `RESET_AFTER` seconds or more, or after one that was stopped (a signal, or
    a clean exit: an operator or a test stopped it, which is no crash loop); else twice
    `previous`, at most `MAX_DELAY`."""
    stopped = returncode <= 0
    if previous is None or ran_for >= RESET_AFTER or stopped:
        return INITIAL_DELAY
    return min(previous * 2, MAX_DELAY)


def log_line(level: str, message: str, now: datetime | None = None) -> str:
    """One JSON log line (no newline) with the fields and time format of the service's logs."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="milliseconds")
    return json.dumps(
        {
            "time": stamp.replace("+00:00", "Z"),
            "level": level,
            "logger": "supervisor",
            "message": message,
        }
    )


def describe_exit(returncode: int) -> str:
    """'exited with code 70', or 'was killed by SIGKILL' for a negative (signal) code."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"was killed by {name}"
    return f"exited with code {returncode}"


def write_pid_file(path: Path, pid: int) -> None:
    """Write `pid` by rename, so a reader never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(f"{pid}\n")
    partial.replace(path)


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn asking the kernel to send the child SIGTERM when the supervisor dies (Linux
    only; None elsewhere)."""
    if not sys.platform.startswith("linux"):
        return None
    # Loaded before forking: the child should do as little as possible between fork and exec.
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        # The supervisor may have died before the prctl took effect: then nobody would tell us.
        if os.getppid() != parent:
            os._exit(1)

    return preexec


class Supervisor:
    """Starts `command`, restarts it when it exits, and stops it on SIGTERM or SIGINT."""

    def __init__(
        self, name: str, command: Sequence[str], pid_file: Path | None, stop_timeout: float
    ) -> None:
        self.name = name
        self.command = list(command)
        self.pid_file = pid_file
        self.stop_timeout = stop_timeout
        self.child: subprocess.Popen[bytes] | None = None
        self.stopping = False
        self._stop_signal = signal.SIGTERM
        # The child the stop signal was passed to, so that it is passed once.
        self._told: subprocess.Popen[bytes] | None = None
        # Wakes the backoff wait when a signal arrives (the wakeup fd is written to on each).
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

    def log(self, level: str, message: str) -> None:
        """One line on stdout. os.write rather than sys.stdout: signal handlers log too, and a
        buffered stream refuses a write from a handler that interrupted another write."""
        data = (log_line(level, message) + "\n").encode()
        while data:
            data = data[os.write(1, data) :]

    def run(self) -> int:
        """Supervise until told to stop; 0 then, or `CANNOT_START` if the first start fails."""
        preexec = _die_with_parent()
        signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        for signum in FORWARDED_SIGNALS:
            signal.signal(signum, self._on_signal)
        signal.signal(signal.SIGALRM, self._on_stop_timeout)
        delay: float | None = None
        started_once = False
        while not self.stopping:
            try:
                child = subprocess.Popen(self.command, preexec_fn=preexec)
            except OSError as exc:
                if not started_once:
                    self.log("ERROR", f"{self.name} cannot be started: {exc}")
                    return CANNOT_START
                # Later failures (out of processes, say) may pass: keep trying, backing off.
                delay = next_delay(delay, 0.0)
                self.log(
                    "ERROR", f"{self.name} could not be restarted: {exc}; retrying in {delay:g} s"
                )
                self._sleep(delay)
                continue
            started_once = True
            self.child = child
            # A stop signal that came while the child was being started found no child to pass
            # it to; without this the supervisor would wait for a child nobody told to stop.
            if self.stopping and self._told is not child:
                self._tell(child, self._stop_signal)
            started = time.monotonic()
            if self.pid_file is not None:
                write_pid_file(self.pid_file, child.pid)
            self.log("INFO", f"{self.name} started (pid {child.pid})")
            returncode = child.wait()
            signal.setitimer(signal.ITIMER_REAL, 0)
            ran_for = time.monotonic() - started
            if self.stopping:
                self.log("INFO", f"{self.name} stopped ({describe_exit(returncode)})")
                break
            delay = next_delay(delay, ran_for, returncode)
            self.log(
                "WARNING", f"{self.name} {describe_exit(returncode)}; restarting in {delay:g} s"
            )
            self._sleep(delay)
        signal.setitimer(signal.ITIMER_REAL, 0)
        self._remove_pid_file()
        return 0

    def _sleep(self, seconds: float) -> None:
        """Wait `seconds`, or less if a stop signal arrives meanwhile."""
        deadline = time.monotonic() + seconds
        while not self.stopping and (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([self._wake_r], [], [], left)
            if readable:
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wake_r, 512)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        child = self.child
        if signum in STOP_SIGNALS:
            if self.stopping:
                return
            self.stopping = True
            self._stop_signal = signal.Signals(signum)
            self.log("INFO", f"{self.name}: {self._stop_signal.name} received, stopping")
            # SIGALRM is handled in the main thread too, so its SIGKILL ends child.wait().
            signal.setitimer(signal.ITIMER_REAL, self.stop_timeout)
        if child is not None:
            self._tell(child, signum)

    def _tell(self, child: subprocess.Popen[bytes], signum: int) -> None:
        # send_signal does nothing once the child has been reaped, so a reused pid is safe.
        if child.returncode is None:
            child.send_signal(signum)
        if signum in STOP_SIGNALS:
            self._told = child

    def _on_stop_timeout(self, _signum: int, _frame: FrameType | None) -> None:
        child = self.child
        if child is not None and child.returncode is None:
            waited = f"{self.stop_timeout:g} s"
            self.log(
                "WARNING", f"{self.name} did not stop in {waited}; killing it (pid {child.pid})"
            )
            child.kill()

    def _remove_pid_file(self) -> None:
        """Remove the pid file if it still names our (now stopped) child."""
        if self.pid_file is None or self.child is None:
            return
        with contextlib.suppress(OSError, ValueError):
            if int(self.pid_file.read_text()) == self.child.pid:
                self.pid_file.unlink()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--name", required=True, help="the child's name in log lines")
    parser.add_argument("--pid-file", type=Path, help="where the child's pid is written")
    parser.add_argument(
        "--stop-timeout",
        type=float,
        default=STOP_TIMEOUT,
        help="seconds the child gets to exit after SIGTERM before SIGKILL (default %(default)s)",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given (put it after --)")
    return Supervisor(args.name, command, args.pid_file, args.stop_timeout).run()


if __name__ == "__main__":
    sys.exit(main())
