"""Drive conductors and agents step by step until a condition holds (bounded)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from berthing.agent import Agent, HostDescription
from berthing.conductor import Conductor
from berthing.model import BuildRequest, Instance, InstanceState, Inventory, Record
from berthing.store import Store

SHAPE = {"VCPU": Inventory(8), "MEMORY_MB": Inventory(8192)}
FLAVOR = {"VCPU": 2, "MEMORY_MB": 2048}


def agents(store: Store, n: int, **kwargs: object) -> list[Agent]:
    out = []
    for i in range(n):
        a = Agent(store, HostDescription(f"host-{i}", SHAPE), **kwargs)  # type: ignore[arg-type]
        a.register()
        out.append(a)
    return out


def drive(
    conductors: Iterable[Conductor],
    fleet: Iterable[Agent],
    until: Callable[[], bool],
    timeout: float = 30.0,
) -> None:
    conductors, fleet = list(conductors), list(fleet)
    deadline = time.monotonic() + timeout
    with Heartbeats(fleet) as beats:
        while not until():
            assert time.monotonic() < deadline, "did not settle in time"
            beats.check()
            for c in conductors:
                c.step()
            for a in fleet:
                a.poll(0)


class Heartbeats:
    """Live hosts heartbeat every second, as each one's own Agent.run would: in a thread
    of their own, so that a slow pass over many agents here (a loaded machine, a remote
    store) cannot make the conductors' reapers take live hosts for dead ones."""

    def __init__(self, fleet: list[Agent]) -> None:
        self._fleet, self._stop = fleet, threading.Event()
        self._failed: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="heartbeats", daemon=True)

    def __enter__(self) -> Heartbeats:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        try:
            while not self._stop.wait(1.0):
                for a in self._fleet:
                    a.heartbeat()
        except BaseException as exc:  # reported by check(), in the test's thread
            self._failed = exc

    def check(self) -> None:
        if self._failed is not None:
            raise self._failed


def request(store: Store, key: str) -> Record[BuildRequest]:
    rec = store.get_record(BuildRequest, key)
    assert rec is not None
    return rec


def state(store: Store, key: str) -> str:
    return str(request(store, key).value.state)


def live_instances(store: Store) -> dict[str, str]:
    """instance uuid -> host uuid, for instances their host reports ACTIVE or BUILD."""
    out = {}
    for rec in store.list_records(Instance):
        if rec.value.state in (InstanceState.ACTIVE, InstanceState.BUILD):
            host, iid = rec.key.split("/", 1)
            out[iid] = host
    return out


def assert_usage_matches_live_instances(store: Store, hosts: Iterable[str]) -> None:
    """Every allocation belongs to a live instance on that host, and vice versa."""
    live = live_instances(store)
    held = {c: h for h in hosts for c in store.provider_allocations(h)}
    assert held == live
