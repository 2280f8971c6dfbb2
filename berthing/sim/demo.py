"""``berthing demo``: a simulated cloud, parallel schedulers, a seeded stream of boots,
resizes and deletes -- once with berthing's claims and once in the classic mode, on the
same workload, side by side.

Per mode: build the cloud into a fresh store; start the fleet process (every host an
agent) and N scheduler processes (each a conductor with its scheduler, competing for
build requests); feed the workload through the conductor's API calls with a bounded
number in flight; sample utilization and counters on the way; stop, audit, report.
"""

from __future__ import annotations

import json
import multiprocessing
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from berthing.conductor import Conductor
from berthing.model import (
    SHARING_TRAIT,
    BerthingError,
    BuildRequest,
    BuildState,
    Inventory,
    ProviderQuery,
    ProviderState,
)
from berthing.scheduler import LatencyHistogram, create_group
from berthing.scheduler.groups import zone_aggregate
from berthing.sim.cloud import ZONES, build_cloud
from berthing.sim.workers import LiveCounters, conductor_worker, fleet_worker, make_scheduler
from berthing.sim.workload import REFERENCE_FLAVOR, Op, make_groups, make_workload
from berthing.store import Store, open_store
from berthing.store.audit import audit

__all__ = ["DemoSettings", "run_demo"]

CLASSES = ("VCPU", "MEMORY_MB", "DISK_GB")
TERMINAL = {s for s in BuildState if s.terminal}
Progress = Callable[[str, int, int], None]
"""(what, done, total)."""


@dataclass(frozen=True)
class DemoSettings:
    hosts: int = 300
    seed: int = 1
    schedulers: int = 3
    requests: int = 2000
    failure_rate: float = 0.02
    duration: float = 120.0
    modes: tuple[str, ...] = ("berthing", "classic")
    output: Path = Path("berthing-report")
    classic_refresh: float = 1.0
    max_in_flight: int = 48
    pools: bool = True
    store_url: Callable[[str, Path], str] = field(
        default=lambda mode, out: f"sqlite:///{out / (mode + '.db')}"
    )


def run_demo(settings: DemoSettings, progress: Progress) -> dict[str, Any]:
    settings.output.mkdir(parents=True, exist_ok=True)
    modes = {mode: _run_mode(mode, settings, progress) for mode in settings.modes}
    store = settings.store_url("<mode>", settings.output / "<mode>-run")
    return {"settings": {**_settings_dict(settings), "store": store}, "modes": modes}


def _settings_dict(s: DemoSettings) -> dict[str, Any]:
    return {
        "hosts": s.hosts,
        "seed": s.seed,
        "schedulers": s.schedulers,
        "requests": s.requests,
        "failure_rate": s.failure_rate,
        "duration": s.duration,
        "modes": list(s.modes),
        "classic_refresh": s.classic_refresh,
        "max_in_flight": s.max_in_flight,
    }


# -- one mode ---------------------------------------------------------------------------


def _run_mode(mode: str, s: DemoSettings, progress: Progress) -> dict[str, Any]:
    work = s.output / f"{mode}-run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    url = s.store_url(mode, work)
    store = open_store(url)
    _prepare_cloud(store, s, lambda done: progress(f"{mode}: registering hosts", done, s.hosts))
    ctx = multiprocessing.get_context("spawn")
    stop, ready = ctx.Event(), ctx.Event()
    fleet = ctx.Process(target=fleet_worker, args=(url, s.seed, s.failure_rate, ready, stop))
    fleet.start()
    if not ready.wait(timeout=300):
        raise BerthingError(
            "The simulated fleet did not come up within 300 s.", hint="Try fewer --hosts."
        )
    outs = [work / f"scheduler-{i}.json" for i in range(s.schedulers)]
    workers = [
        ctx.Process(
            target=conductor_worker,
            args=(url, mode, f"{mode}-{i}", s.seed + i, s.classic_refresh, stop, str(out)),
        )
        for i, out in enumerate(outs)
    ]
    for w in workers:
        w.start()
    try:
        driver = _Driver(store, mode, s, progress)
        driver.run()
    finally:
        stop.set()
        for p in [*workers, fleet]:
            p.join(timeout=60)
    result = _collect(store, driver, outs)
    result["crashed_workers"] = [
        f"{p.name} (exit {p.exitcode})" for p in [*workers, fleet] if p.exitcode != 0
    ]
    store.close()
    return result


def _prepare_cloud(store: Store, s: DemoSettings, progress: Callable[[int], None]) -> None:
    build_cloud(store, s.hosts, s.seed, progress)
    if s.pools:  # one shared storage pool per zone, for boot-from-volume requests
        for zone in ZONES:
            pool = store.create_provider(f"pool-{zone}")
            pool = store.set_inventories(pool.uuid, 0, {"DISK_GB": Inventory(500_000)})
            pool = store.set_traits(pool.uuid, pool.generation, [SHARING_TRAIT])
            store.set_aggregates(pool.uuid, pool.generation, [zone_aggregate(store, zone)])
    for group in make_groups(s.seed):
        create_group(store, group.policy, uuid=group.uuid)


class _Driver:
    """Feeds the workload through the conductor's API calls and samples the cloud."""

    def __init__(self, store: Store, mode: str, s: DemoSettings, progress: Progress) -> None:
        self.store, self.mode, self.s, self.progress = store, mode, s, progress
        self.api = Conductor(store, make_scheduler(store, mode, s.seed - 1, s.classic_refresh))
        self.ops = make_workload(s.requests, s.seed, make_groups(s.seed), s.pools)
        self.keys: dict[int, str] = {}
        self.states: dict[str, str] = {}
        self.counts = {"boot": 0, "delete": 0, "resize": 0, "skipped": 0}
        self.timeline: list[dict[str, Any]] = []
        self._revision = 0
        self.started = self.finished = 0.0

    def run(self) -> None:
        self.started = time.monotonic()
        next_sample = 0.0
        deadline = self.started + self.s.duration
        queue = list(enumerate(self.ops))
        queue.reverse()  # pop() from the end: the stream's order
        waiting: list[tuple[int, Op]] = []  # deletes/resizes whose target still builds
        while time.monotonic() < deadline:
            self._refresh()
            waiting = [op for op in waiting if not self._try(*op)]
            while queue and self.in_flight() < self.s.max_in_flight:
                index, op = queue.pop()
                if not self._try(index, op):
                    waiting.append((index, op))
            if time.monotonic() >= next_sample:
                self.timeline.append(self._sample())
                next_sample = time.monotonic() + 0.5
            self.progress(f"{self.mode}: workload", self.done, len(self.ops))
            if not queue and not waiting and not self.in_flight():
                break
            time.sleep(0.02)
        self.finished = time.monotonic()

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    def _refresh(self) -> None:
        for rec in self.store.list_records(BuildRequest, "", self._revision):
            self._revision = max(self._revision, rec.revision)
            self.states[rec.key] = rec.value.state

    def in_flight(self) -> int:
        return sum(1 for k in self.keys.values() if self.states.get(k) not in TERMINAL)

    def _try(self, index: int, op: Op) -> bool:
        """Apply ``op``; False if it must wait for its target's build to finish."""
        if op.kind == "boot" and op.spec is not None:
            key = self.api.submit(op.spec)
            self.keys[index] = key
            self.states[key] = BuildState.PENDING
            self.counts["boot"] += 1
            return True
        assert op.target is not None
        boot = self.ops[op.target].spec
        state = self.states.get(self.keys.get(op.target, ""))
        if state not in TERMINAL:
            return False
        if state != BuildState.ACTIVE or boot is None:
            self.counts["skipped"] += 1  # its boot failed or it was deleted already
            return True
        try:
            if op.kind == "delete":
                self.api.delete(boot.instance_uuids[0])
            elif op.resources is not None:
                self.api.resize(boot.instance_uuids[0], op.resources)
            self.counts[op.kind] += 1
        except BerthingError:
            self.counts["skipped"] += 1  # e.g. no host can take the bigger flavor
        return True

    def _sample(self) -> dict[str, Any]:
        return self.point([dict(r.value.counters) for r in self.store.list_records(LiveCounters)])

    def point(self, workers: list[dict[str, Any]]) -> dict[str, Any]:
        """A timeline sample: cumulative counters defined exactly as the final totals."""
        states = self.store.find_providers(ProviderQuery())
        return {
            "t": round(time.monotonic() - self.started, 2),
            "utilization": utilization(states),
            **counters(workers),
        }


# -- results ----------------------------------------------------------------------------


def utilization(states: list[ProviderState]) -> dict[str, float]:
    out = {}
    for rc in CLASSES:
        cap = sum(s.inventories[rc].capacity for s in states if rc in s.inventories)
        used = sum(s.usages.get(rc, 0) for s in states if rc in s.inventories)
        out[rc] = used / cap if cap else 0.0
    return out


def fragmentation(states: list[ProviderState]) -> dict[str, float]:
    """Share of free room that sits on hosts too full for the reference flavor."""
    compute = [s for s in states if all(rc in s.inventories for rc in REFERENCE_FLAVOR)]
    out = {}
    for rc in REFERENCE_FLAVOR:
        free = sum(s.free(rc) for s in compute)
        stranded = sum(s.free(rc) for s in compute if not s.fits(REFERENCE_FLAVOR))
        out[rc] = stranded / free if free else 0.0
    return out


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def counters(workers: list[dict[str, Any]]) -> dict[str, int]:
    """Totals over the scheduler processes. ``retries`` are those caused by races: a
    claim lost in the scheduler (berthing) or refused by the host at build (classic);
    injected build failures are counted in ``failed_builds`` and ``reschedules``."""

    def total(name: str) -> int:
        return sum(int(w.get(name, 0)) for w in workers)

    return {
        "placements": total("placements"),
        "conflicts": total("conflicts"),
        "retries": total("retries") + total("race_failures"),
        "requeries": total("requeries"),
        "no_valid_host": total("no_valid_host"),
        "failed_builds": total("failed_builds"),
        "race_failures": total("race_failures"),
        "reschedules": total("reschedules"),
        "errors": total("errors"),
    }


def _collect(store: Store, driver: _Driver, outs: list[Path]) -> dict[str, Any]:
    finals = [json.loads(p.read_text()) for p in outs if p.exists()]
    resizes = driver.api.scheduler.metrics
    finals.append({**resizes.as_dict(), "latency": resizes.latency.to_dict()})
    histogram = LatencyHistogram()
    for f in finals:
        histogram.merge(LatencyHistogram.from_dict(f["latency"]))
    latencies = [x * 1000 for x in histogram.values()]
    totals = counters(finals)
    driver.timeline.append(driver.point(finals))  # after the workers stopped: complete
    wall = max(driver.finished - driver.started, 1e-9)
    states = store.find_providers(ProviderQuery())
    return {
        "wall_seconds": round(wall, 2),
        **totals,
        "placements_per_second": round(totals["placements"] / wall, 1),
        "latency_ms": {
            "p50": _percentile(latencies, 0.5),
            "p99": _percentile(latencies, 0.99),
            "mean": sum(latencies) / len(latencies) if latencies else 0.0,
        },
        "latencies_ms": latencies,
        "ops": driver.counts,
        "utilization": utilization(states),
        "fragmentation": fragmentation(states),
        "timeline": driver.timeline,
        "audit_problems": audit(store),
        "unfinished": driver.in_flight(),
    }
