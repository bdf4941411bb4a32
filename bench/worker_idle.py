"""An idle worker's memory and CPU: this tree's worker against another checkout's, one run.

    python bench/worker_idle.py --before /path/to/older/checkout [--settle 30] [--seconds 60]

Each worker is started in turn against the running stack (with the stack's worker stopped,
so that only one member is in the groups), left to settle, then sampled once a second from
/proc: resident memory (mean and peak) and CPU (user + system seconds over the window, as a
share of one core). Nothing is sent meanwhile: this is what a worker costs while it waits.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def measure(label: str, cwd: Path, settle: float, seconds: float) -> tuple[float, float, float]:
    env = {**os.environ, "EXPORT_WORKER_ID": "9", "PYTHONPATH": str(cwd)}
    command = [sys.executable, "-m", "agents", "worker", "--loglevel=info", "--without-web"]
    with open(ROOT / f".stack/logs/bench-idle-{label}.log", "wb") as log:
        worker = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=log)
    try:
        time.sleep(settle)
        if worker.poll() is not None:
            raise RuntimeError(f"the {label} worker exited; see its log in .stack/logs")
        start_cpu, samples = cpu_seconds(worker.pid), []
        for _ in range(int(seconds)):
            samples.append(rss_bytes(worker.pid))
            time.sleep(1)
        cpu = (cpu_seconds(worker.pid) - start_cpu) / seconds
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
    return sum(samples) / len(samples), max(samples), cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", type=Path, required=True, help="an older checkout")
    parser.add_argument("--settle", type=float, default=30)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    subprocess.run([ROOT / "scripts/stack.sh", "restart-services"], check=True)
    stop = [ROOT / "scripts/stack.sh", "stop-workers"]
    subprocess.run(stop, check=True)
    try:
        results = {
            "before": measure("before", args.before.resolve(), args.settle, args.seconds),
            "now": measure("now", ROOT, args.settle, args.seconds),
        }
    finally:
        subprocess.run([ROOT / "scripts/stack.sh", "services"], check=True)
    print(f"idle worker over {args.seconds:.0f} s after {args.settle:.0f} s to settle:")
    for label, (mean, peak, cpu) in results.items():
        memory = f"RSS mean {mean / 2**20:6.1f} MB, peak {peak / 2**20:6.1f} MB"
        print(f"  {label:6s} {memory}, CPU {cpu:6.2%} of a core")
    (b_mean, _, b_cpu), (n_mean, _, n_cpu) = results["before"], results["now"]
    cpu_ratio = n_cpu / b_cpu if b_cpu else float("nan")
    print(f"  now / before: RSS {n_mean / b_mean:.2f}, CPU {cpu_ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
