"""Two cells -- each with its own conductors and schedulers -- share one store and one
set of hosts: every request is placed by its own cell, and no host is double-booked."""

from __future__ import annotations

from collections import Counter

import pytest

from berthing.conductor import Conductor
from berthing.model import BuildRequest, BuildState, RequestSpec
from berthing.scheduler import Scheduler
from berthing.store import open_store
from berthing.store.audit import audit
from tests.lifecycle.cell_worker import run
from tests.lifecycle.harness import FLAVOR, agents, assert_usage_matches_live_instances, drive
from tests.procs import SPAWN, join_ok, start

PER_CELL = 30


@pytest.mark.slow
def test_two_cells_share_hosts_without_double_booking(shared_store_url: str) -> None:
    store = open_store(shared_store_url)
    fleet = agents(store, 10)  # 80 VCPU: room for 40 of the 60 requests
    keys = {
        cell: [
            Conductor(store, Scheduler(store), cell=cell).submit(RequestSpec(FLAVOR))
            for _ in range(PER_CELL)
        ]
        for cell in ("cell1", "cell2")
    }
    stop = SPAWN.Event()
    cells = enumerate(["cell1", "cell1", "cell2", "cell2"])
    procs = start(run, [(shared_store_url, cell, seed, stop) for seed, cell in cells])
    try:

        def settled() -> bool:
            states = [r.value.state for r in store.list_records(BuildRequest)]
            return all(s in ("ACTIVE", "ERROR") for s in states)

        drive([], fleet, settled, timeout=300)  # bounded; generous for Cassandra on a busy box
    finally:
        stop.set()
        join_ok(procs, timeout=30)
    states = {}
    errors: Counter[str] = Counter()
    for cell, cell_keys in keys.items():
        for key in cell_keys:
            rec = store.get_record(BuildRequest, key)
            assert rec is not None
            assert (rec.value.owner or "").startswith(f"{cell}-")  # placed by its own cell
            states[key] = rec.value.state
            if rec.value.state is not BuildState.ACTIVE:
                errors[rec.value.error] += 1
    # The hosts filled, exactly; what the others ended with, if not.
    assert list(states.values()).count(BuildState.ACTIVE) == 40, errors
    assert audit(store) == []
    assert_usage_matches_live_instances(store, [a.uuid for a in fleet])
    store.close()
