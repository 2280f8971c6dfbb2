"""The anchor a remote engine's runs are judged against: bare compare-and-set cycles.

A placement on a remote engine costs at least one compare-and-set on the provider it
claims. The anchor measures the engine's bare cycle (read a key, then write it on
condition that it is unchanged) in the same run as the placements, on the same
cluster, through the backend's own client, so that "placements per second" can be
read as a share of what the engine could do at best on this machine at this time.

Each client is its own process (as each scheduler is) with its own key, so no cycle
ever loses a race; the clients warm up, meet at a barrier, then count cycles for the
same window. What a cycle is differs by engine (``etcd.py``, ``cassandra.py``); this
module runs the clients and reduces what they counted.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from typing import Any

from berthing.model import InvalidInput
from berthing.sim.bench.results import percentile

__all__ = ["CLIENTS", "SECONDS", "Anchor", "Opener", "measure"]

#: Seconds each measurement counts cycles (after its clients met at a barrier).
SECONDS = 3.0
CLIENTS = (1, 4)
WARMUP_CYCLES = 20
_JOIN = 60.0

#: One cycle: True when it completed, False when its outcome is unknown (not counted;
#: the next cycle reads afresh). A cycle that loses its race on its own key raises.
Cycle = Callable[[], bool]
#: Opens one client in its process: (engine parameters, client index) -> its cycle.
#: A module-level function, so that a spawned process can import it.
Opener = Callable[[Any, int], AbstractContextManager[Cycle]]


@dataclass(frozen=True, slots=True)
class Anchor:
    """Bare cycles per second by number of concurrent client processes."""

    engine: str
    cycle: str
    """What one cycle is, in words, for the report."""
    rates: dict[int, float]
    p50_ms: dict[int, float]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "cycle": self.cycle,
            "cas_per_s": {str(k): v for k, v in self.rates.items()},
            "p50_ms": {str(k): v for k, v in self.p50_ms.items()},
            "seconds": self.seconds,
        }


def measure(
    engine: str,
    cycle: str,
    opener: Opener,
    params: Any,
    clients: Sequence[int] = CLIENTS,
    seconds: float = SECONDS,
    progress: Callable[[str], None] = lambda _: None,
) -> Anchor:
    """Cycles per second with each number of ``clients``, one process each."""
    rates, p50 = {}, {}
    for n in clients:
        progress(f"{engine}: measuring the bare compare-and-set anchor, {n} client(s)")
        rates[n], p50[n] = _rate(opener, params, n, seconds)
    return Anchor(engine, cycle, rates, p50, seconds)


def _rate(opener: Opener, params: Any, clients: int, seconds: float) -> tuple[float, float]:
    """(cycles per second over the common window, median cycle in ms)."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(clients)
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=_client,
            args=(opener, params, i, seconds, barrier, results),
            name=f"bench-anchor-{i}",
        )
        for i in range(clients)
    ]
    for p in procs:
        p.start()
    try:
        counts = list(_collect(results, clients, seconds))
    finally:
        for p in procs:
            p.join(_JOIN)
            if p.is_alive():  # only after a failure elsewhere: stop our own child
                p.terminate()
                p.join()
    wall = max(c[2] for c in counts) - min(c[1] for c in counts)
    latencies = [x for c in counts for x in c[3]]
    return sum(c[0] for c in counts) / wall, percentile(latencies, 50) * 1000


def _collect(results: Any, clients: int, seconds: float) -> Iterator[tuple[Any, ...]]:
    """Each client's (cycles, started, finished, latencies); raises if one failed."""
    # Clients start a JVM-free interpreter and warm up before the barrier: generous.
    deadline = time.monotonic() + seconds + 2 * _JOIN
    for _ in range(clients):
        try:
            item = results.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise InvalidInput("The compare-and-set anchor's clients did not report.") from None
        if isinstance(item, str):
            raise InvalidInput(f"A compare-and-set anchor client failed: {item}")
        yield item


def _client(
    opener: Opener, params: Any, index: int, seconds: float, barrier: Barrier, results: Any
) -> None:
    try:
        with opener(params, index) as cycle:
            for _ in range(WARMUP_CYCLES):  # connections, prepared statements
                cycle()
            barrier.wait(_JOIN)
            results.put(_count(cycle, seconds))
    except BaseException as exc:
        barrier.abort()  # the others must not wait for this one at the barrier
        results.put(f"{type(exc).__name__}: {exc}")
        raise


def _count(cycle: Cycle, seconds: float) -> tuple[int, float, float, list[float]]:
    started = time.time()
    stop, done, latencies = started + seconds, 0, []
    while time.time() < stop:
        began = time.perf_counter()
        if cycle():
            done += 1
            latencies.append(time.perf_counter() - began)
    return done, started, time.time(), latencies
