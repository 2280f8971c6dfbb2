"""One scheduler process of the benchmark (started with ``spawn``: a fresh interpreter
with its own store connection, as a real scheduler would have).

It builds its request stream and places a warm-up outside the clock, waits at a
barrier so that all processes start together, then places its timed stream and
reports what it measured through the event queue.
"""

from __future__ import annotations

import random
import resource
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from typing import Any, Protocol

from berthing.model import InvalidInput, RequestSpec
from berthing.scheduler import NoValidHost, Scheduler, SchedulerMetrics
from berthing.sim.bench.workload import request_stream
from berthing.sim.cloud import load_summary
from berthing.store import Store, open_store
from berthing.store.instrument import instrument

__all__ = ["PHASES", "Job", "work"]

#: Store calls timed separately, by the phase they belong to.
PHASES = {
    "find_providers": "query",
    "shape": "query",
    "claim": "claim",
    "release": "claim",
    "get_record": "records",
    "get_records": "records",
    "put_record": "records",
}
PROGRESS_EVERY = 50
BARRIER_TIMEOUT = 600.0


class Events(Protocol):
    """The part of a ``multiprocessing.Queue`` a worker uses."""

    def put(self, obj: Any, block: bool = ..., timeout: float | None = ...) -> None: ...


@dataclass(frozen=True, slots=True)
class Job:
    url: str
    index: int
    requests: int
    warmup: int
    seed: int
    total_requests: int
    """Every process's requests together: sizes the GPU and bare-metal share."""


def work(job: Job, barrier: Barrier, events: Events) -> None:
    """Process entry point; every outcome, failure included, is sent as an event."""
    try:
        with open_store(job.url) as store:
            events.put(("done", job.index, _measure(job, store, barrier, events)))
    except BaseException as exc:
        barrier.abort()  # the others must not wait for this one at the barrier
        events.put(("error", job.index, f"{type(exc).__name__}: {exc}"))
        raise


def _measure(job: Job, store: Store, barrier: Barrier, events: Events) -> dict[str, Any]:
    summary = load_summary(store)
    if summary is None:
        raise InvalidInput(f"{job.url} holds no benchmark cloud.")
    specs = request_stream(store, summary, job.warmup + job.requests, job.seed, job.total_requests)
    scheduler = Scheduler(store, rng=random.Random(job.seed))
    consumers: list[str] = []  # every placement, warm-up too: an etcd run releases them
    _place(scheduler, specs[: job.warmup], lambda n: None, consumers)
    scheduler.metrics = SchedulerMetrics()
    phases = _instrument(store)
    events.put(("ready", job.index, None))
    barrier.wait(BARRIER_TIMEOUT)
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.time()
    why, latencies = _place(
        scheduler,
        specs[job.warmup :],
        lambda n: events.put(("progress", job.index, n)),
        consumers,
    )
    finished, after = time.time(), resource.getrusage(resource.RUSAGE_SELF)
    return {
        **scheduler.metrics.as_dict(),
        "latencies": latencies,
        "started": started,
        "finished": finished,
        "cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        "voluntary_switches": after.ru_nvcsw - before.ru_nvcsw,
        "involuntary_switches": after.ru_nivcsw - before.ru_nivcsw,
        "peak_rss_kb": _peak_rss_kb(after),
        "file_rss_kb": _status_kb("RssFile") or 0,
        "phases_s": phases,
        "no_valid_host_why": dict(why),
        "consumers": consumers,
    }


def _peak_rss_kb(usage: resource.struct_rusage) -> int:
    """This process's peak RSS. Linux's ru_maxrss is no good here: a spawned child
    starts as a fork of the parent, and exec keeps that fork's high-water mark, so
    every scheduler would report at least the parent's size (the parent just built a
    100k-provider cloud). VmHWM is the peak of this process's own address space."""
    return _status_kb("VmHWM") or usage.ru_maxrss


def _status_kb(field: str) -> int | None:
    """A ``kB`` field of /proc/self/status, or None off Linux."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _place(
    scheduler: Scheduler,
    specs: Sequence[RequestSpec],
    progress: Callable[[int], None],
    consumers: list[str],
) -> tuple[Counter[str], list[float]]:
    """Place ``specs``, adding the consumers placed to ``consumers``; return why
    requests found no valid host, by kind of request, and every call's seconds (a
    benchmark keeps them all: the scheduler's own histogram is bounded, to 5%)."""
    since = 0
    why: Counter[str] = Counter()
    latencies: list[float] = []
    for spec in specs:
        started = time.perf_counter()
        try:
            selections = scheduler.select_destinations(spec)
        except NoValidHost as exc:
            # An outcome, not a failure: the scheduler's metrics count it; the reason
            # tells a full cloud from a constraint the workload cannot meet.
            why[f"{_kind(spec)}: {exc.reasons[-1] if exc.reasons else '?'}"] += 1
        else:
            consumers.extend(s.consumer.uuid for s in selections)
        finally:
            latencies.append(time.perf_counter() - started)
        since += 1
        if since == PROGRESS_EVERY:
            progress(since)
            since = 0
    if since:
        progress(since)
    return why, latencies


def _kind(spec: RequestSpec) -> str:
    parts = ["+".join(sorted(spec.resources))]
    if spec.required_traits:
        parts.append("+".join(sorted(spec.required_traits)))
    if spec.availability_zone:
        parts.append("zone")
    if spec.server_group:
        parts.append("group")
    return " ".join(parts)


def _instrument(store: Store) -> dict[str, float]:
    """Seconds spent in the store by phase of a placement; a call made inside another
    (``get_record`` is ``get_records`` underneath) counts once, in the outer one's phase."""
    spent = dict.fromkeys(PHASES.values(), 0.0)

    def observe(operation: str, seconds: float) -> None:
        spent[PHASES[operation]] += seconds

    instrument(store, observe, PHASES, nested=False)
    return spent
