"""The demo's OS processes: scheduler/conductor workers and the simulated fleet.

Module-level functions so that ``spawn`` can start them in fresh interpreters. Each
publishes its live counters as a record (``demo-metrics/<name>``) for the progress
timeline, and writes its full metrics (with every latency) to a JSON file at the end.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from berthing.agent import Fleet, HostDescription
from berthing.conductor import Conductor
from berthing.model import SHARING_TRAIT, GenerationConflict, ProviderQuery, Record
from berthing.scheduler import Scheduler, SchedulerConfig
from berthing.sim.classic import ClassicScheduler
from berthing.store import Store, open_store

__all__ = ["METRICS", "conductor_worker", "fleet_worker", "make_scheduler"]

METRICS = "demo-metrics"
PUBLISH_EVERY = 0.25


def make_scheduler(store: Store, mode: str, seed: int, classic_refresh: float) -> Scheduler:
    rng = random.Random(seed)
    if mode == "classic":
        return ClassicScheduler(store, SchedulerConfig(), rng=rng, refresh_interval=classic_refresh)
    return Scheduler(store, SchedulerConfig(), rng=rng)


def _publish(store: Store, name: str, value: dict[str, Any], last: Record | None) -> Record | None:
    try:
        return store.put_record(METRICS, name, value, None if last is None else last.revision)
    except GenerationConflict:
        return store.get_record(METRICS, name)


def conductor_worker(
    url: str, mode: str, name: str, seed: int, classic_refresh: float, stop: Event, out: str
) -> None:
    store = open_store(url)
    scheduler = make_scheduler(store, mode, seed, classic_refresh)
    conductor = Conductor(store, scheduler, name=name)
    published: Record | None = None
    next_publish = 0.0
    while not stop.is_set():
        if not conductor.step():
            time.sleep(0.005)
        if time.monotonic() >= next_publish:
            published = _publish(store, name, _live(scheduler, conductor), published)
            next_publish = time.monotonic() + PUBLISH_EVERY
    _publish(store, name, _live(scheduler, conductor), published)
    final = {**_live(scheduler, conductor), "latencies": scheduler.metrics.latencies}
    Path(out).write_text(json.dumps(final))
    store.close()


def _live(scheduler: Scheduler, conductor: Conductor) -> dict[str, Any]:
    return {**scheduler.metrics.as_dict(), **asdict(conductor.stats)}


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
