"""One cell's conductor (with its own scheduler) in its own OS process."""

from __future__ import annotations

import random
from multiprocessing.synchronize import Event

from berthing.conductor import Conductor
from berthing.scheduler import Scheduler
from berthing.store import open_store


def run(url: str, cell: str, seed: int, stop: Event) -> None:
    store = open_store(url)
    conductor = Conductor(
        store, Scheduler(store, rng=random.Random(seed)), cell=cell, name=f"{cell}-conductor-{seed}"
    )
    conductor.run(stop)
    store.close()
