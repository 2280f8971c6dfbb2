"""The demo's OS processes: scheduler/conductor workers and the simulated fleet.

Module-level functions so that ``spawn`` can start them in fresh interpreters. Each
publishes its live counters as a record (``demo-metrics/<name>``) for the progress
timeline, and writes its full metrics (with every latency) to a JSON file at the end.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import ClassVar

from berthing.agent import HostDescription
from berthing.conductor import Conductor
from berthing.model import SHARING_TRAIT, GenerationConflict, ProviderQuery, Record
from berthing.scheduler import Scheduler, SchedulerConfig
from berthing.sim.classic import classic_scheduler
from berthing.sim.fleet import Fleet
from berthing.store import Store, open_store

__all__ = ["LiveCounters", "conductor_worker", "fleet_worker", "make_scheduler"]

PUBLISH_EVERY = 0.25


@dataclass(frozen=True, slots=True)
class LiveCounters:
    """A worker's counters so far, for the progress timeline (key: the worker's name)."""

    KIND: ClassVar[str] = "demo-metrics"
    SCHEMA: ClassVar[int] = 1

    counters: Mapping[str, int]


def make_scheduler(store: Store, mode: str, seed: int, classic_refresh: float) -> Scheduler:
    rng = random.Random(seed)
    if mode == "classic":
        return classic_scheduler(
            store, SchedulerConfig(), rng=rng, refresh_interval=classic_refresh
        )
    return Scheduler(store, SchedulerConfig(), rng=rng)


def _publish(
    store: Store, name: str, value: dict[str, int], last: Record[LiveCounters] | None
) -> Record[LiveCounters] | None:
    try:
        rev = None if last is None else last.revision
        return store.put_record(name, LiveCounters(value), rev)
    except GenerationConflict:
        return store.get_record(LiveCounters, name)


def conductor_worker(
    url: str, mode: str, name: str, seed: int, classic_refresh: float, stop: Event, out: str
) -> None:
    store = open_store(url)
    scheduler = make_scheduler(store, mode, seed, classic_refresh)
    conductor = Conductor(store, scheduler, name=name)
    # The conductor's own service loop runs the work; this thread only publishes.
    loop = threading.Thread(
        target=conductor.run, args=(stop,), kwargs={"idle_sleep": 0.005}, daemon=True
    )
    loop.start()
    published: Record[LiveCounters] | None = None
    while not stop.wait(PUBLISH_EVERY):
        published = _publish(store, name, _live(scheduler, conductor), published)
    loop.join()
    _publish(store, name, _live(scheduler, conductor), published)
    final = {**_live(scheduler, conductor), "latency": scheduler.metrics.latency.to_dict()}
    Path(out).write_text(json.dumps(final))
    store.close()


def _live(scheduler: Scheduler, conductor: Conductor) -> dict[str, int]:
    counts = {k: v for k, v in scheduler.metrics.as_dict().items() if isinstance(v, int)}
    return {**counts, **asdict(conductor.stats)}


def fleet_worker(url: str, seed: int, failure_rate: float, ready: Event, stop: Event) -> None:
    """Every compute host of the store, each an Agent, failing builds at ``failure_rate``."""
    store = open_store(url)
    hosts = [
        HostDescription.from_state(s)
        for s in store.find_providers(ProviderQuery())
        if SHARING_TRAIT not in s.provider.traits
    ]
    rng = random.Random(seed)
    fleet = Fleet(
        store, hosts, lambda rec: "injected build failure" if rng.random() < failure_rate else None
    )
    fleet.register()
    ready.set()
    while not stop.is_set():
        fleet.poll(timeout=0.05)
    store.close()
