"""One measured run: a prepared cloud, one design, N schedulers, one arrival pattern.

The driver (this process) plays the API: it submits the stream's boots through the
conductor's ``submit`` and its deletes through ``delete``, keeping a bounded number
of boots in flight, and waits until every boot is ACTIVE or ERROR. Arrivals are a
closed loop, so a run's shape does not depend on how fast the machine is:

- ``steady``: a new boot as soon as one finishes, ``window`` in flight at all times;
- ``bursty``: ``burst`` boots at once, the next wave only when the last has finished,
  so every scheduler works on the same wave against the same cloud.

Afterwards the run is read back from the store (each build request's events say
when it was submitted, failed, rescheduled and became ACTIVE) and from the worker
processes' counters.
"""

from __future__ import annotations

import math
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from berthing.conductor import Conductor
from berthing.model import BerthingError, BuildRequest, BuildState, ProviderQuery, ProviderState
from berthing.scheduler import LatencyHistogram
from berthing.sim.cloud import (
    REFERENCE_FLAVOR,
    compute_hosts,
    fill_of,
    fragmentation,
    utilization,
)
from berthing.sim.prepared import Cloud
from berthing.sim.workers import Order, Workers, make_scheduler
from berthing.sim.workload import Op
from berthing.store import Store, open_store
from berthing.store.audit import audit

__all__ = ["ARRIVALS", "Point", "RunSettings", "measure"]

ARRIVALS = ("steady", "bursty")
RACE_MARK = "claim failed at build time"
"""How an agent words a failed claim at build: the race a host-claimed design pays."""
POLL = 0.02


@dataclass(frozen=True, slots=True)
class Point:
    """Where on the curve a run sits."""

    fill: float
    schedulers: int
    arrivals: str


@dataclass(frozen=True, slots=True)
class RunSettings:
    """What stays the same for every run of a demo or sweep."""

    hosts: int = 300
    operations: int = 300
    failure_rate: float = 0.02
    classic_refresh: float = 1.0
    window: int = 16
    burst: int = 32
    timeout: float = 300.0
    pools: bool = True


Progress = Callable[[int, int], None]
"""(operations done, operations in the stream)."""


def measure(
    workers: Workers,
    url: str,
    cloud: Cloud,
    design: str,
    point: Point,
    ops: list[Op],
    s: RunSettings,
    progress: Progress,
) -> dict[str, Any]:
    """Run ``ops`` on the store at ``url`` with ``design`` at ``point``; the results."""
    order = Order(url, design, cloud.seed, s.classic_refresh, s.failure_rate)
    store = open_store(url)
    try:
        api = Conductor(store, make_scheduler(store, design, f"{cloud.seed}/api", 1.0))
        driver = _Driver(store, api, ops, point.arrivals, s, progress, workers.check)
        with workers.lend(order, point.schedulers) as finals:
            driver.run()
        return _results(store, driver, finals, cloud)
    finally:
        store.close()


class _Driver:
    """Submits the stream and follows every boot to ACTIVE or ERROR."""

    def __init__(
        self,
        store: Store,
        api: Conductor,
        ops: list[Op],
        arrivals: str,
        s: RunSettings,
        progress: Progress,
        check: Callable[[], None],
    ) -> None:
        self.store, self.api, self.ops, self.s = store, api, ops, s
        self.bursty = arrivals == "bursty"
        self.progress, self.check = progress, check
        self.keys: dict[str, str] = {}
        """Instance uuid -> build request key, for the stream's boots."""
        self.states: dict[str, BuildState] = {}
        self.open: set[str] = set()
        """Keys of boots not yet ACTIVE or ERROR."""
        self.counts = Counter({"boot": 0, "delete": 0, "skipped": 0})
        self._revision = 0
        self._wave = 0
        self.started = self.finished = 0.0

    def run(self) -> None:
        self.started = time.monotonic()
        queue = deque(self.ops)
        waiting: list[Op] = []  # deletes whose target still builds
        deadline = self.started + self.s.timeout
        while time.monotonic() < deadline:
            self._refresh()
            waiting = [op for op in waiting if not self._delete(op)]
            self._feed(queue, waiting)
            self.progress(sum(self.counts.values()), len(self.ops))
            if not queue and not waiting and not self.in_flight():
                break
            self.check()
            time.sleep(POLL)
        self.finished = time.monotonic()

    def _feed(self, queue: deque[Op], waiting: list[Op]) -> None:
        """Apply operations in stream order while a boot has a free slot."""
        slots = self._slots()
        while queue and (queue[0].kind == "delete" or slots > 0):
            op = queue.popleft()
            if op.kind == "boot" and op.spec is not None:
                self.keys[op.spec.instance_uuids[0]] = key = self.api.submit(op.spec)
                self.states[key] = BuildState.PENDING
                self.open.add(key)
                self.counts["boot"] += 1
                slots -= 1
                self._wave -= 1
            elif not self._delete(op):
                waiting.append(op)

    def _slots(self) -> int:
        in_flight = self.in_flight()
        if not self.bursty:
            return self.s.window - in_flight
        if in_flight == 0 and self._wave <= 0:
            self._wave = self.s.burst  # the last wave has finished: the next one arrives
        return max(self._wave, 0)

    def _refresh(self) -> None:
        for rec in self.store.list_records(BuildRequest, "", self._revision):
            self._revision = max(self._revision, rec.revision)
            self.states[rec.key] = rec.value.state
            if rec.value.state.terminal:
                self.open.discard(rec.key)

    def in_flight(self) -> int:
        return len(self.open)

    def _delete(self, op: Op) -> bool:
        """Delete ``op.target``; False if it must wait for its build to finish."""
        assert op.target is not None
        key = self.keys.get(op.target)
        state = BuildState.ACTIVE if key is None else self.states[key]  # None: prefilled
        if not state.terminal:
            return False
        if state is not BuildState.ACTIVE:
            self.counts["skipped"] += 1  # its boot failed: nothing to delete
            return True
        try:
            self.api.delete(op.target)
            self.counts["delete"] += 1
        except BerthingError:
            self.counts["skipped"] += 1
        return True


# -- results ----------------------------------------------------------------------------


def _results(
    store: Store, driver: _Driver, finals: Mapping[str, Mapping[str, Any]], cloud: Cloud
) -> dict[str, Any]:
    schedulers = [v for k, v in finals.items() if k.startswith("scheduler-")]
    wall = max(driver.finished - driver.started, 1e-9)
    totals = _totals(schedulers)
    states = store.find_providers(ProviderQuery())
    requests = [r.value for r in store.list_records(BuildRequest) if r.key in driver.states]
    placements = max(totals["placements"], 1)
    claims = totals["scheduler_claims"] + int(finals.get("fleet", {}).get("host_claims", 0))
    return {
        "wall_s": round(wall, 3),
        "placements": totals["placements"],
        "placements_per_s": totals["placements"] / wall,
        **_latencies(schedulers),
        **_lifecycle(requests, driver.started, wall),
        "retries": totals["retries"],
        "no_valid_host": totals["no_valid_host"],
        "queries_per_placement": totals["queries"] / placements,
        "providers_read_per_placement": totals["providers_read"] / placements,
        "claims_per_placement": claims / placements,
        "fill_start": cloud.fill,
        "fill_end": fill_of(states),
        "utilization": utilization(states),
        "fragmentation": fragmentation(states),
        "stranded": stranded(states),
        "ops": dict(driver.counts),
        "unfinished": driver.in_flight(),
        "audit_problems": audit(store),
        "rejections": _rejections(schedulers),
    }


def _totals(schedulers: list[Mapping[str, Any]]) -> Counter[str]:
    totals: Counter[str] = Counter()
    for counters in schedulers:
        totals.update({k: v for k, v in counters.items() if isinstance(v, int)})
    return totals


def _rejections(schedulers: list[Mapping[str, Any]]) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for counters in schedulers:
        totals.update(counters.get("rejections", {}))
    return dict(totals)


def _latencies(schedulers: list[Mapping[str, Any]]) -> dict[str, float]:
    """Scheduling latency (one call of the scheduler, query to claim) over every process."""
    histogram = LatencyHistogram()
    for counters in schedulers:
        histogram.merge(LatencyHistogram.from_dict(counters["latency"]))
    return {
        "latency_p50_ms": histogram.quantile(0.5) * 1000,
        "latency_p99_ms": histogram.quantile(0.99) * 1000,
    }


def _lifecycle(requests: list[BuildRequest], started: float, wall: float) -> dict[str, Any]:
    """From each boot's events: time to ACTIVE, and when races and errors happened."""
    epoch = time.time() - (time.monotonic() - started)  # wall-clock time of the start
    to_active: list[float] = []
    races: list[float] = []
    classes: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for request in requests:
        for event in request.events:
            seen[event.what] += 1
            if event.what == "active":
                to_active.append(event.at - request.created)
            elif event.what == "build-failed" and event.detail.startswith(RACE_MARK):
                races.append(round(event.at - epoch, 3))
                classes[_short_class(event.detail)] += 1
    # Counted from the requests' events, which each transition writes exactly once
    # (a compare-and-set), not from the conductors' own counters: two conductors that
    # both see one failed build both count it before one of them loses the write.
    return {
        "active": sum(r.state is BuildState.ACTIVE for r in requests),
        "errors": sum(r.state is BuildState.ERROR for r in requests),
        "failed_builds": seen["build-failed"],
        "race_failures": len(races),
        "reschedules": seen["rescheduled"],
        "to_active_p50_ms": _quantile(to_active, 0.5) * 1000,
        "to_active_p99_ms": _quantile(to_active, 0.99) * 1000,
        "race_times": sorted(races),
        "race_classes": dict(classes),
    }


def _short_class(detail: str) -> str:
    """The class a failed claim ran short of: ``... capacity (VCPU would need 9 of 8)``."""
    inner = detail.partition("(")[2]
    kind = detail.removeprefix(RACE_MARK).strip(": ").split(" ", 1)[0]
    return inner.split(" ", 1)[0] if kind == "capacity" and inner else kind


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def stranded(states: list[ProviderState]) -> dict[str, dict[str, float]]:
    """Where free memory is stranded: per host shape, the free memory (GB) on hosts that
    cannot take the reference flavor, by the class that stops them. The shape is the
    name's prefix (``large-000042``)."""
    out: dict[str, dict[str, float]] = {}
    for state in compute_hosts(states):
        short = [rc for rc, n in REFERENCE_FLAVOR.items() if state.free(rc) < n]
        if short:
            by = out.setdefault(state.provider.name.rsplit("-", 1)[0], {})
            by[short[0]] = by.get(short[0], 0.0) + state.free("MEMORY_MB") / 1024
    return {shape: out[shape] for shape in sorted(out)}
