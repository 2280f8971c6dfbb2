"""Facts about the machine a benchmark ran on: figures mean nothing without them."""

from __future__ import annotations

import os
import platform
import sqlite3
import time
from pathlib import Path

__all__ = ["busy_cpu_seconds", "calibrate", "cpu_model", "machine_facts"]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_facts() -> dict[str, object]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable or os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "load_average": list(os.getloadavg()),
    }


def busy_cpu_seconds() -> float | None:
    """CPU seconds every process on the machine has used since boot (/proc/stat), or
    None where that is not available. Sampled around a run, it shows how much CPU
    something other than the benchmark took meanwhile: a disturbed run."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def calibrate() -> float:
    """CPU milliseconds for a fixed pure-Python workload (dicts, tuples, sorting: what
    a scheduler does), best of three. On a shared VM the same code runs at different
    speeds from one minute to the next without any visible load; this tells runs on a
    slow machine from slow code, and divides out of CPU-per-placement figures."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        table = {i: (i * 7919) % 10007 for i in range(100_000)}
        sorted(table.items(), key=lambda kv: kv[1])
        best = min(best, time.process_time() - started)
    return best * 1000
