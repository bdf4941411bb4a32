"""Looking at processes through /proc, for the tests that stop and restart them."""

from __future__ import annotations

from pathlib import Path


def alive(pid: int | None) -> bool:
    """Whether `pid` runs; a zombie (dead, not yet reaped) does not."""
    if pid is None:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return None
