"""The figures of one run (a cloud size and a number of scheduler processes), reduced
from what each worker measured."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["RunResult", "percentile", "summarize"]

#: Resource classes whose fill is the cloud's fill (custom pools are budgeted apart).
FILL_CLASSES = ("VCPU", "MEMORY_MB", "DISK_GB")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``; 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class RunResult:
    size: int
    schedulers: int
    requests_per_process: int
    requests: int
    placements: int
    no_valid_host: int
    conflicts: int
    retries: int
    wall_s: float
    placements_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    conflicts_per_1k: float
    retries_per_1k: float
    peak_rss_mb: float
    """The largest peak RSS among the processes (VmHWM); it includes the pages of the
    store file they map, which the OS shares between them (``file_rss_mb``)."""
    file_rss_mb: float
    cpu_busy: float
    """CPU seconds of all schedulers over (wall time x cores): 1.0 is every core busy."""
    calibration_ms: float
    """CPU ms of a fixed Python workload just before the run (lower: a faster machine)."""
    cpu_ms_per_placement: float
    """Scheduler CPU per placement: efficiency, apart from how the cores were shared."""
    other_cpu: float | None
    """CPU taken by other processes on the machine during the run, over (wall x cores):
    above a few percent the run was disturbed and its figures are pessimistic."""
    phases_ms: dict[str, float]
    """Mean milliseconds per request spent in each store phase; "other" is Python."""
    switches: dict[str, float]
    """Context switches per request: voluntary (waited) and involuntary (preempted)."""
    fill: dict[str, float]
    audit_problems: list[str] = field(default_factory=list)
    no_valid_host_why: dict[str, int] = field(default_factory=dict)
    """Request kind and last reason -> count, over all processes."""
    store: str = "sqlite"
    """``sqlite``, ``etcd`` or ``cassandra``."""
    store_cpu: float | None = None
    """CPU the remote engine's members took during the run, over (wall x cores); None
    for SQLite (in process) or a cluster this invocation did not start."""

    @property
    def fill_max(self) -> float:
        return max((self.fill.get(rc, 0.0) for rc in FILL_CLASSES), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fill_max": self.fill_max}


def summarize(
    size: int,
    requests_per_process: int,
    workers: Sequence[Mapping[str, Any]],
    fill: dict[str, float],
    audit_problems: list[str],
    cores: int,
    machine_busy_s: float | None = None,
    calibration_ms: float = 0.0,
    store: str = "sqlite",
    store_cpu_s: float | None = None,
) -> RunResult:
    """One ``RunResult`` from the workers' reports, the final fill and the audit."""
    latencies = [x for w in workers for x in w["latencies"]]
    total = {k: sum(int(w[k]) for w in workers) for k in _COUNTS}
    wall = max(w["finished"] for w in workers) - min(w["started"] for w in workers)
    placements = total["placements"]
    own_cpu = sum(w["cpu_s"] for w in workers)
    per_1k = 1000 / placements if placements else 0.0
    return RunResult(
        size=size,
        schedulers=len(workers),
        requests_per_process=requests_per_process,
        requests=total["requests"],
        placements=placements,
        no_valid_host=total["no_valid_host"],
        conflicts=total["conflicts"],
        retries=total["retries"],
        wall_s=wall,
        placements_per_s=placements / wall if wall > 0 else 0.0,
        p50_ms=percentile(latencies, 50) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
        max_ms=max(latencies, default=0.0) * 1000,
        conflicts_per_1k=total["conflicts"] * per_1k,
        retries_per_1k=total["retries"] * per_1k,
        peak_rss_mb=max(w["peak_rss_kb"] for w in workers) / 1024,
        file_rss_mb=max(w["file_rss_kb"] for w in workers) / 1024,
        cpu_busy=own_cpu / (wall * cores) if wall > 0 else 0.0,
        calibration_ms=calibration_ms,
        cpu_ms_per_placement=own_cpu * 1000 / placements if placements else 0.0,
        other_cpu=_other(machine_busy_s, own_cpu + (store_cpu_s or 0.0), wall * cores),
        phases_ms=_phases(workers, latencies),
        switches=_switches(workers, total["requests"]),
        fill=fill,
        audit_problems=audit_problems,
        no_valid_host_why=_why(workers),
        store=store,
        store_cpu=None if store_cpu_s is None or wall <= 0 else store_cpu_s / (wall * cores),
    )


_COUNTS = ("requests", "placements", "no_valid_host", "conflicts", "retries")


def _why(workers: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for w in workers:
        total.update(w.get("no_valid_host_why", {}))
    return dict(total.most_common())


def _other(machine_busy_s: float | None, own_cpu: float, capacity: float) -> float | None:
    if machine_busy_s is None or capacity <= 0:
        return None
    return max(0.0, machine_busy_s - own_cpu) / capacity


def _phases(workers: Sequence[Mapping[str, Any]], latencies: list[float]) -> dict[str, float]:
    n = max(len(latencies), 1)
    spent: dict[str, float] = {}
    for w in workers:
        for phase, seconds in w["phases_s"].items():
            spent[phase] = spent.get(phase, 0.0) + seconds
    out = {phase: s * 1000 / n for phase, s in sorted(spent.items())}
    out["other"] = max(0.0, sum(latencies) * 1000 / n - sum(out.values()))
    return out


def _switches(workers: Sequence[Mapping[str, Any]], requests: int) -> dict[str, float]:
    n = max(requests, 1)
    return {
        kind: sum(w[f"{kind}_switches"] for w in workers) / n
        for kind in ("voluntary", "involuntary")
    }
