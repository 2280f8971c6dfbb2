"""Client processes that start together and are timed together.

``bench api`` and ``bench boots`` both measure "N clients doing the same thing at
once". Each client is a spawned interpreter (a fresh one, as a real client would be:
no state forked from the parent); it connects and warms up outside the clock, waits at
a barrier for the others, then works and reports a ``Tally``. The rate is the clients'
work over the wall time from the first start to the last finish, so that importing
httpx in four interpreters is not counted as the server's time.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Barrier
from typing import Protocol

from berthing.model import BerthingError
from berthing.sim.bench.results import percentile

__all__ = ["Burst", "ClientWork", "Tally", "run_clients"]

SPAWN = multiprocessing.get_context("spawn")
BARRIER_TIMEOUT = 600.0
#: How long the parent waits for a client's result before checking that it still lives.
POLL = 1.0


@dataclass(slots=True)
class Tally:
    """What one client did between the barrier and its last call."""

    done: int = 0
    misses: int = 0
    """Attempts that did not count: conflicts (lost claims) or failed builds."""
    latencies: list[float] = field(default_factory=list)
    """Seconds per counted operation."""
    started: float = 0.0
    finished: float = 0.0
    counters: dict[str, int] = field(default_factory=dict)
    """Anything else worth adding up over the clients (a scheduler's conflicts)."""


class ClientWork(Protocol):
    """One client's job: warm up, call ``go()`` (which returns once every client is
    ready, with the wall-clock start), work, and return the tally with ``finished``
    set. Must be picklable (a module-level function or a ``functools.partial``)."""

    def __call__(self, index: int, go: Callable[[], float]) -> Tally: ...


@dataclass(frozen=True, slots=True)
class Burst:
    """Every client's tally together."""

    clients: int
    done: int
    misses: int
    wall_s: float
    latencies_ms: list[float]
    counters: dict[str, int] = field(default_factory=dict)

    @property
    def per_s(self) -> float:
        return self.done / self.wall_s if self.wall_s > 0 else 0.0

    def p(self, q: float) -> float:
        return round(percentile(self.latencies_ms, q), 2)


def run_clients(work: ClientWork, clients: int, timeout: float | None = None) -> Burst:
    """Run ``clients`` processes of ``work``; raise if any of them failed or died.
    No ``timeout`` by default: each client's own calls are bounded, and a slow server
    (Placement at 10k providers) is a result, not an error."""
    barrier = SPAWN.Barrier(clients)
    results: multiprocessing.Queue[tuple[int, Tally | None, str]] = SPAWN.Queue()
    procs = [
        SPAWN.Process(target=_client, args=(work, i, barrier, results), name=f"bench-client-{i}")
        for i in range(clients)
    ]
    for p in procs:
        p.start()
    try:
        tallies = _collect(results, procs, timeout)
    finally:
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.terminate()
    return _burst(tallies)


def _collect(
    results: multiprocessing.Queue[tuple[int, Tally | None, str]],
    procs: Sequence[BaseProcess],
    timeout: float | None,
) -> list[Tally]:
    """Each client's tally; the first failure (an error, or a client that died without
    a word, or the timeout) is raised with what the client said."""
    tallies: list[Tally] = []
    deadline = time.monotonic() + timeout if timeout is not None else float("inf")
    while len(tallies) < len(procs):
        try:
            index, tally, error = results.get(timeout=POLL)
        except queue.Empty:
            dead = [p.name for p in procs if p.exitcode not in (None, 0)]
            if dead or time.monotonic() > deadline:
                raise BerthingError(
                    f"benchmark client(s) {', '.join(dead) or 'all'} did not report "
                    f"({'died' if dead else f'timeout {timeout}s'})."
                ) from None
            continue
        if tally is None:
            raise BerthingError(f"benchmark client {index} failed: {error}")
        tallies.append(tally)
    return tallies


def _burst(tallies: list[Tally]) -> Burst:
    return Burst(
        clients=len(tallies),
        done=sum(t.done for t in tallies),
        misses=sum(t.misses for t in tallies),
        wall_s=max(t.finished for t in tallies) - min(t.started for t in tallies),
        latencies_ms=[s * 1000 for t in tallies for s in t.latencies],
        counters=dict(sum((Counter(t.counters) for t in tallies), Counter())),
    )


def _client(
    work: ClientWork,
    index: int,
    barrier: Barrier,
    results: multiprocessing.Queue[tuple[int, Tally | None, str]],
) -> None:
    """Process entry point: every outcome, a failure included, reaches the parent."""

    def go() -> float:
        barrier.wait(BARRIER_TIMEOUT)
        return time.time()  # wall clock: comparable across the clients' processes

    try:
        results.put((index, work(index, go), ""))
    except BaseException as exc:
        barrier.abort()  # the others must not wait at the barrier for this one
        results.put((index, None, f"{type(exc).__name__}: {exc}"))
        raise
