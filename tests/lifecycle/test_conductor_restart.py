"""A conductor killed with SIGKILL mid-flight: another one finishes its requests."""

from __future__ import annotations

import os
import random
import signal
import time

import pytest

from berthing.conductor import Conductor
from berthing.model import BuildRequest, RequestSpec
from berthing.scheduler import Scheduler
from berthing.store import Store, open_store
from berthing.store.audit import audit
from tests.lifecycle.conductor_worker import run
from tests.lifecycle.harness import (
    FLAVOR,
    Heartbeats,
    agents,
    assert_usage_matches_live_instances,
    drive,
)
from tests.procs import start

REQUESTS = 40


def _states(store: Store) -> list[str]:
    return [r.value.state for r in store.list_records(BuildRequest)]


@pytest.mark.slow
def test_killed_conductor_is_finished_by_another(shared_store_url: str) -> None:
    store = open_store(shared_store_url)
    # Builds take a little while, so that the kill lands with work in flight.
    fleet = agents(store, 12, builder=lambda rec: time.sleep(0.05))
    submitter = Conductor(store, Scheduler(store))
    keys = [submitter.submit(RequestSpec(FLAVOR)) for _ in range(REQUESTS)]

    [child] = start(run, [(shared_store_url, 120)])
    deadline = time.monotonic() + 120
    with Heartbeats(fleet) as beats:  # or the child reaps the hosts as dead
        while _states(store).count("ACTIVE") < 5:  # let it get well into the work
            assert time.monotonic() < deadline and child.is_alive()
            beats.check()
            random.choice(fleet).poll(0)
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    child.join(timeout=30)
    assert child.exitcode == -signal.SIGKILL
    in_flight = REQUESTS - _states(store).count("ACTIVE")
    assert in_flight > 0, "the conductor finished everything before it was killed"

    successor = Conductor(store, Scheduler(store, rng=random.Random(1)))
    drive([successor], fleet, lambda: _states(store).count("ACTIVE") == REQUESTS, timeout=60)
    print(f"\nkilled with {in_flight} of {REQUESTS} requests in flight; successor finished all")
    assert audit(store) == []
    assert_usage_matches_live_instances(store, [a.uuid for a in fleet])
    assert len(keys) == REQUESTS
    store.close()
