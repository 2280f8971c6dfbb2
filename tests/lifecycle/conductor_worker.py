"""A conductor in its own OS process, to be killed mid-flight by the test."""

from __future__ import annotations

import random
import threading

from berthing.conductor import Conductor
from berthing.scheduler import Scheduler
from berthing.store import open_store


def run(url: str, seconds: float) -> None:
    store = open_store(url)
    conductor = Conductor(store, Scheduler(store, rng=random.Random(7)), scheduling_lease=1.0)
    stop = threading.Event()
    threading.Timer(seconds, stop.set).start()
    conductor.run(stop)
