"""The cell a ``berthing serve`` runs besides its APIs: conductor processes (each with
its scheduler) and, to try berthing on a laptop, a simulated fleet of hosts.

Workers are OS processes (spawned: the scheduling path is CPU-bound Python), each
opening the store by URL; several ``serve`` processes on one store share the work as
conductors always do (every transition is a compare-and-set). Each worker publishes
its counters to Prometheus (``metrics.Publisher``) and stops on the shared event.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import random
import threading
from dataclasses import asdict, dataclass
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event

from berthing.conductor import Conductor
from berthing.scheduler import Scheduler, load_config
from berthing.service import metrics
from berthing.store import open_store
from berthing.store.instrument import instrument

__all__ = ["Cell", "CellSettings"]

log = logging.getLogger(__name__)
SPAWN = multiprocessing.get_context("spawn")


@dataclass(frozen=True, slots=True)
class CellSettings:
    name: str = "cell1"
    conductors: int = 1
    simulate_hosts: int = 0
    reap_every: float = 10.0
    scheduler_config: str | None = None


class Cell:
    def __init__(self, store_url: str, settings: CellSettings) -> None:
        self.url, self.settings = store_url, settings
        self.stop = SPAWN.Event()
        self.processes: list[BaseProcess] = []

    def start(self) -> None:
        s = self.settings
        if s.simulate_hosts:
            ready = SPAWN.Event()
            fleet = SPAWN.Process(
                target=_fleet, args=(self.url, s.simulate_hosts, ready, self.stop), name="fleet"
            )
            fleet.start()
            self.processes.append(fleet)
            ready.wait(120)
        for i in range(s.conductors):
            name = f"{s.name}-conductor-{i}"
            p = SPAWN.Process(target=_conductor, args=(self.url, s, name, self.stop), name=name)
            p.start()
            self.processes.append(p)

    def alive(self) -> list[str]:
        """Workers that died (empty when all are well): for /readyz."""
        return [p.name or "?" for p in self.processes if not p.is_alive()]

    def close(self) -> None:
        self.stop.set()
        for p in self.processes:
            p.join(10)
            if p.is_alive():
                p.terminate()


def _stop_when_orphaned(stop: Event) -> None:
    """Set ``stop`` when the serve process that started this worker is gone.

    A server killed before it could stop its cell (SIGKILL, or a SIGTERM whose graceful
    stop outlasted a supervisor's patience) would otherwise leave its workers running,
    holding the store, forever."""
    parent = os.getppid()

    def watch() -> None:
        while not stop.wait(1.0):
            if os.getppid() != parent:
                log.warning("berthing serve (pid %d) is gone: this worker stops", parent)
                stop.set()

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


def _conductor(url: str, settings: CellSettings, name: str, stop: Event) -> None:
    _stop_when_orphaned(stop)
    with open_store(url) as store:
        instrument(store, metrics.store_observer)
        scheduler = Scheduler(store, load_config(settings.scheduler_config), rng=random.Random())
        conductor = Conductor(store, scheduler, cell=settings.name, name=name)
        publisher = metrics.Publisher()
        loop = threading.Thread(
            target=conductor.run,
            args=(stop,),
            kwargs={"reap_every": settings.reap_every},
            daemon=True,
        )
        loop.start()
        while not stop.wait(1.0):
            publisher.publish(scheduler.metrics, asdict(conductor.stats))
        loop.join()
        publisher.publish(scheduler.metrics, asdict(conductor.stats))


def _fleet(url: str, hosts: int, ready: Event, stop: Event) -> None:
    """Simulated hosts (berthing.sim's shapes) that build whatever they are given."""
    from berthing.sim.cloud import build_cloud, load_summary
    from berthing.sim.fleet import Fleet, seeded_failures
    from berthing.sim.workers import fleet_hosts

    _stop_when_orphaned(stop)
    with open_store(url) as store:
        if load_summary(store) is None:
            build_cloud(store, hosts, seed=1)
        # register, not attach: like agents restarting, the fleet also builds what
        # was claimed before this service started.
        fleet = Fleet(store, fleet_hosts(store)[1], seeded_failures(1, 0.0))
        fleet.register()
        ready.set()
        while not stop.is_set():
            fleet.poll(timeout=0.05)
