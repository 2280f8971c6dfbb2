"""The demo's OS processes: one simulated fleet and up to N scheduler processes.

They are started once and reused for every run of a demo or a sweep: starting ten
Python interpreters per run would cost more than many runs themselves. Each waits on
its own queue for an order (a store URL and a design), runs until the shared stop
event is set, and answers with its counters. A scheduler process is a conductor
with its scheduler, the way berthing runs in production; the fleet process is every
host's agent (``Fleet``). Module-level functions, so that ``spawn`` can start them.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import random
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from multiprocessing.context import SpawnContext, SpawnProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from typing import Any, Protocol

from berthing.agent import HostDescription
from berthing.conductor import Conductor
from berthing.model import (
    SHARING_TRAIT,
    BerthingError,
    CandidateRequest,
    CandidateResult,
    Consumer,
    Destination,
    ProviderQuery,
    ProviderState,
    RequestSpec,
)
from berthing.scheduler import (
    CandidateSource,
    Claim,
    ClaimStrategy,
    Context,
    Scheduler,
    SchedulerConfig,
    StoreCandidates,
    StoreClaims,
)
from berthing.sim.classic import classic_scheduler
from berthing.sim.fleet import Fleet, seeded_failures
from berthing.store import Store, open_store

__all__ = ["DESIGNS", "Order", "Workers", "fleet_hosts", "make_scheduler"]

DESIGNS = ("berthing", "classic")
#: Simulated hosts never die here, so the conductors' reaper has nothing to find; it
#: would only rescan every host. (A prepared cloud's heartbeats are also long expired.)
REAP_EVERY = 1e9
READY_TIMEOUT = 300.0
DONE_TIMEOUT = 120.0


@dataclass(frozen=True, slots=True)
class Order:
    """What one run asks of the processes."""

    url: str
    design: str
    seed: int
    classic_refresh: float
    failure_rate: float


class _Counted(Protocol):
    queries: int
    providers_read: int


class CountingSource:
    """berthing's candidate source, counting what it asks the store: one query per pass."""

    def __init__(self, inner: CandidateSource) -> None:
        self.inner = inner
        self.queries = 0
        self.providers_read = 0

    def find(self, request: CandidateRequest) -> CandidateResult:
        found = self.inner.find(request)
        self.queries += 1
        self.providers_read += len(found.providers)
        return found


class CountingClaims:
    """A claim strategy, counting the compare-and-set writes it sends to the store."""

    def __init__(self, inner: ClaimStrategy) -> None:
        self.inner = inner
        self.writes = 0

    def claim(self, consumer: Consumer, dest: Destination, ctx: Context) -> Claim | None:
        got = self.inner.claim(consumer, dest, ctx)
        # None: a claim the store refused; claimed=False: nothing was sent (classic boot).
        self.writes += got is None or got.claimed
        return got

    def undo(self, claim: Claim, spec: RequestSpec) -> None:
        self.inner.undo(claim, spec)

    def consumer_for_retry(self, instance_uuid: str, spec: RequestSpec) -> Consumer:
        return self.inner.consumer_for_retry(instance_uuid, spec)


def make_scheduler(store: Store, design: str, rng_seed: str, classic_refresh: float) -> Scheduler:
    """A scheduler of either design, its claims (and berthing's queries) counted."""
    rng = random.Random(rng_seed)
    if design == "classic":
        classic = classic_scheduler(store, rng=rng, refresh_interval=classic_refresh)
        claims = CountingClaims(classic.stack.claims)
        return Scheduler(store, rng=rng, source=classic.stack.source, claims=claims)
    source = CountingSource(StoreCandidates(store))
    return Scheduler(
        store, SchedulerConfig(), rng=rng, source=source, claims=CountingClaims(StoreClaims(store))
    )


def fleet_hosts(store: Store) -> tuple[list[ProviderState], list[HostDescription]]:
    """Every provider but the sharing pools, and the host each describes."""
    states = [
        s for s in store.find_providers(ProviderQuery()) if SHARING_TRAIT not in s.provider.traits
    ]
    return states, [HostDescription.from_state(s) for s in states]


# -- inside the processes ---------------------------------------------------------------


def _serve(
    name: str,
    orders: Queue[Any],
    results: Queue[Any],
    stop: Event,
    run: Callable[[Order, Callable[[], None], Event], dict[str, Any]],
) -> None:
    """Take orders until ``None``; report ``ready``, then ``done`` with counters, or
    ``failed`` with the traceback (the process stays up for the next order)."""
    while (order := orders.get()) is not None:
        try:
            counters = run(order, lambda: results.put(("ready", name, None)), stop)
            results.put(("done", name, counters))
        except Exception:
            results.put(("failed", name, traceback.format_exc()))


def scheduler_process(index: int, orders: Queue[Any], results: Queue[Any], stop: Event) -> None:
    _serve(f"scheduler-{index}", orders, results, stop, _scheduler_run(index))


def _scheduler_run(index: int) -> Callable[[Order, Callable[[], None], Event], dict[str, Any]]:
    def run(order: Order, ready: Callable[[], None], stop: Event) -> dict[str, Any]:
        store = open_store(order.url)
        try:
            seed = f"{order.seed}/scheduler-{index}"
            scheduler = make_scheduler(store, order.design, seed, order.classic_refresh)
            conductor = Conductor(store, scheduler, name=f"{order.design}-{index}")
            ready()
            conductor.run(stop, reap_every=REAP_EVERY)
            return _scheduler_counters(scheduler, conductor)
        finally:
            store.close()

    return run


def _scheduler_counters(scheduler: Scheduler, conductor: Conductor) -> dict[str, Any]:
    metrics = scheduler.metrics
    source: _Counted = scheduler.stack.source  # type: ignore[assignment]
    claims: CountingClaims = scheduler.stack.claims  # type: ignore[assignment]
    return {
        **{k: v for k, v in metrics.as_dict().items() if isinstance(v, int)},
        **asdict(conductor.stats),
        "rejections": dict(metrics.rejections),
        "queries": source.queries,
        "providers_read": source.providers_read,
        "scheduler_claims": claims.writes,
        "latency": metrics.latency.to_dict(),
    }


def fleet_process(orders: Queue[Any], results: Queue[Any], stop: Event) -> None:
    _serve("fleet", orders, results, stop, _fleet_run)


def _fleet_run(order: Order, ready: Callable[[], None], stop: Event) -> dict[str, Any]:
    """Every compute host of a prepared store, each an Agent."""
    store = open_store(order.url)
    try:
        states, hosts = fleet_hosts(store)
        fleet = Fleet(store, hosts, seeded_failures(order.seed, order.failure_rate))
        fleet.attach(states)
        ready()
        while not stop.is_set():
            fleet.poll(timeout=0.02)
        fleet.poll(timeout=0)  # what arrived while stopping
        return {"host_claims": fleet.host_claims}
    finally:
        store.close()


# -- the driver's side ------------------------------------------------------------------


@dataclass
class _Process:
    name: str
    process: SpawnProcess
    orders: Queue[Any]


class Workers:
    """The fleet and ``schedulers`` scheduler processes, started once; ``run`` lends the
    fleet and the first N of them to one run. Use as a context manager."""

    def __init__(self, schedulers: int) -> None:
        ctx: SpawnContext = multiprocessing.get_context("spawn")
        self.stop: Event = ctx.Event()
        self.results: Queue[Any] = ctx.Queue()
        self.fleet = self._start(ctx, "fleet", fleet_process, ())
        self.schedulers = [
            self._start(ctx, f"scheduler-{i}", scheduler_process, (i,)) for i in range(schedulers)
        ]

    def _start(
        self, ctx: SpawnContext, name: str, target: Callable[..., None], args: tuple[Any, ...]
    ) -> _Process:
        orders: Queue[Any] = ctx.Queue()
        process = ctx.Process(
            target=target, args=(*args, orders, self.results, self.stop), name=name, daemon=True
        )
        process.start()
        return _Process(name, process, orders)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def lend(self, order: Order, schedulers: int) -> Iterator[dict[str, dict[str, Any]]]:
        """Fleet and ``schedulers`` processes working on ``order.url`` for the body of the
        ``with``; afterwards the dict it yielded holds each process's counters."""
        if schedulers > len(self.schedulers):
            raise BerthingError(f"only {len(self.schedulers)} scheduler processes started")
        busy = {p.name for p in [self.fleet, *self.schedulers[:schedulers]]}
        self.stop.clear()
        for p in [self.fleet, *self.schedulers[:schedulers]]:
            p.orders.put(order)
        finals: dict[str, dict[str, Any]] = {}
        failures: dict[str, str] = {}
        self._collect(busy, "ready", READY_TIMEOUT, {}, failures)
        try:
            if failures:
                raise _failed(failures)
            yield finals
        finally:
            self.stop.set()
            self._collect(busy - set(failures), "done", DONE_TIMEOUT, finals, failures)
        if failures:
            raise _failed(failures)

    def _collect(
        self,
        names: set[str],
        kind: str,
        timeout: float,
        into: dict[str, Any],
        failures: dict[str, str],
    ) -> None:
        """Wait until every process in ``names`` answered ``kind`` or failed."""
        waiting = set(names)
        while waiting:
            try:
                what, name, payload = self.results.get(timeout=timeout)
            except queue.Empty:
                for name in waiting:
                    failures[name] = f"no answer ({kind}) within {timeout:g} s"
                return
            if name not in waiting:
                continue  # a stale answer from an earlier run that failed
            waiting.discard(name)
            if what == "failed":
                failures[name] = payload
            else:
                into[name] = payload

    def check(self) -> None:
        """Raise if a worker died or reported a failure while a run was going on."""
        for p in [self.fleet, *self.schedulers]:
            if not p.process.is_alive():
                raise BerthingError(f"worker process {p.name} died (exit {p.process.exitcode})")

    def close(self) -> None:
        self.stop.set()
        for p in [self.fleet, *self.schedulers]:
            with contextlib.suppress(Exception):
                p.orders.put(None)
        for p in [self.fleet, *self.schedulers]:
            p.process.join(timeout=30)
            if p.process.is_alive():
                p.process.terminate()
                p.process.join(timeout=5)


def _failed(failures: dict[str, str]) -> BerthingError:
    text = "\n".join(f"{name}: {why}" for name, why in sorted(failures.items()))
    return BerthingError(f"worker processes failed:\n{text}")
