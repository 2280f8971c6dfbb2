"""The claim storm the fault tests run while they break a replicated store.

Several OS processes (``tests.procs``, spawned: each its own interpreter and connection,
as schedulers are) claim and release at random and log what the store acknowledged,
and when. After the fault, ``check_sound`` holds the store to what was acknowledged:
no provider over capacity, usage equal to the allocations, every acknowledged claim
there whole, every acknowledged release gone, and nothing held that nobody attempted.

With ``pools``, a share of the claims also take disk from a storage pool that the
hosts share (a claim on two providers at once), which on Cassandra runs the
multi-provider protocol instead of the one-LWT claim.
"""

from __future__ import annotations

import itertools
import json
import random
import time
from collections.abc import Callable, Sequence
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest

from berthing.model import (
    SHARING_TRAIT,
    Claimed,
    Consumer,
    ConsumerNotFound,
    Inventory,
    StoreUnavailable,
    new_uuid,
)
from berthing.store import Store, open_store
from berthing.store.audit import audit
from tests.procs import SPAWN, join_ok, start

__all__ = [
    "Log",
    "check_sound",
    "recovery_seconds",
    "run_storm",
    "setup_pools",
    "setup_providers",
    "stall_seconds",
    "storm",
]

Log = dict[str, Any]
Allocs = dict[str, dict[str, int]]
#: Share of the storm's claims that also take disk from a pool, when there are pools.
MULTI_SHARE = 0.3
#: Seconds the workers may take to open the store.
START_TIMEOUT = 120.0


def storm(
    url: str,
    providers: list[str],
    seconds: float,
    seed: int,
    out: str,
    pools: Sequence[str] = (),
    start: Barrier | None = None,
) -> None:
    """Claim and release at random for ``seconds`` (from ``start``, once every worker
    has opened the store); log what was acknowledged when."""
    rng = random.Random(seed)
    store = open_store(url)
    if start is not None:
        start.wait(START_TIMEOUT)
    started = time.time()
    acked: dict[str, Allocs] = {}
    log: dict[str, Any] = {
        "released": [],
        "maybe_released": [],
        "unknown": {},  # consumer -> what its claim asked for; it may or may not be there
        "ok_at": [],
        "errors": [],
        "failed_after": [],  # seconds each failed operation took to fail
        "multi": 0,
    }
    conflicts = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        allocs = _allocations(rng, providers, pools)
        consumer = Consumer(new_uuid(), f"p{seed}", "u")
        asked = time.monotonic()
        try:
            result = store.claim(consumer, allocs)
        except StoreUnavailable as exc:  # outcome unknown: it may or may not be there
            log["unknown"][consumer.uuid] = allocs
            log["errors"].append(str(exc))
            log["failed_after"].append(time.monotonic() - asked)
            continue
        if isinstance(result, Claimed):
            acked[consumer.uuid] = allocs
            log["ok_at"].append(time.time())
            log["multi"] += len(allocs) > 1
        else:
            conflicts += 1
        if acked and rng.random() < 0.25:
            gone = rng.choice(sorted(acked))
            asked = time.monotonic()
            try:
                store.release(gone)
            except StoreUnavailable as exc:  # outcome unknown: held or released
                log["maybe_released"].append(gone)
                log["errors"].append(str(exc))
                log["failed_after"].append(time.monotonic() - asked)
                log["unknown"][gone] = acked.pop(gone)
                continue
            del acked[gone]
            log["released"].append(gone)
            log["ok_at"].append(time.time())
    ended = time.time()
    try:
        store.close()
    except StoreUnavailable as exc:  # its last catalogue publications could not be sent
        log["errors"].append(str(exc))
    summary = {"acked": acked, "conflicts": conflicts, "started": started, "ended": ended}
    Path(out).write_text(json.dumps({**log, **summary}))


def _allocations(rng: random.Random, providers: list[str], pools: Sequence[str]) -> Allocs:
    allocs = {rng.choice(providers): {"VCPU": rng.randint(1, 4), "MEMORY_MB": 256}}
    if pools and rng.random() < MULTI_SHARE:
        allocs[rng.choice(pools)] = {"DISK_GB": rng.randint(10, 40)}
    return allocs


def run_storm(
    url: str,
    providers: list[str],
    tmp_path: Path,
    fault: Callable[[], object],
    *,
    workers: int,
    seconds: float,
    fault_at: float,
    pools: Sequence[str] = (),
) -> tuple[list[Log], float]:
    """Run the storm in ``workers`` processes, call ``fault()`` ``fault_at`` seconds in;
    return the workers' logs and the wall-clock time of the fault."""
    outs = [tmp_path / f"storm{i}-{time.monotonic_ns()}.json" for i in range(workers)]
    # Opening a store takes seconds on a busy box: the storm starts when all are open.
    together = SPAWN.Barrier(workers + 1)
    args = [(url, providers, seconds, i, str(o), list(pools), together) for i, o in enumerate(outs)]
    procs = start(storm, args)
    together.wait(START_TIMEOUT)
    time.sleep(fault_at)  # let the storm get going: the fault must land mid-flight
    at = time.time()
    fault()
    join_ok(procs, timeout=seconds + 120)
    return [json.loads(o.read_text()) for o in outs], at


def setup_providers(store: Store, count: int, prefix: str = "h") -> list[str]:
    """``count`` hosts of 16 VCPU and 4 GiB, named ``prefix0``, ``prefix1``..."""
    uuids = []
    for i in range(count):
        p = store.create_provider(f"{prefix}{i}")
        inv = {"VCPU": Inventory(16), "MEMORY_MB": Inventory(4096)}
        uuids.append(store.set_inventories(p.uuid, 0, inv).uuid)
    return uuids


def setup_pools(store: Store, hosts: list[str], count: int) -> list[str]:
    """``count`` storage pools of 400 GB shared (by aggregate) with every host."""
    aggregate = new_uuid()
    for host in hosts:
        store.set_aggregates(host, store.get_provider(host).generation, [aggregate])
    uuids = []
    for i in range(count):
        p = store.create_provider(f"pool{i}")
        p = store.set_inventories(p.uuid, 0, {"DISK_GB": Inventory(400)})
        p = store.set_traits(p.uuid, p.generation, [SHARING_TRAIT])
        uuids.append(store.set_aggregates(p.uuid, p.generation, [aggregate]).uuid)
    return uuids


def check_sound(store: Store, providers: list[str], logs: list[Log], least: int = 50) -> None:
    """No over-allocation, usage == allocations, every acknowledged claim present whole,
    every acknowledged release gone, every claim of unknown outcome whole or absent, and
    every present consumer at least attempted; and at least ``least`` acknowledged
    writes, or the storm tested little."""
    assert audit(store) == []
    held: dict[str, Allocs] = {}
    for p in providers:
        for c, a in store.provider_allocations(p).items():
            held.setdefault(c, {})[p] = a
    acked = {u: a for log in logs for u, a in log["acked"].items()}
    unknown = {u: a for log in logs for u, a in log["unknown"].items()}
    for uuid, allocs in acked.items():
        assert store.get_allocations(uuid)[1] == allocs
        assert held.get(uuid) == allocs, f"{uuid}: the providers disagree with the consumer"
    for log in logs:
        for uuid in log["released"]:
            with pytest.raises(ConsumerNotFound):
                store.get_allocations(uuid)
    for uuid, allocs in unknown.items():
        assert _allocations_of(store, uuid) in ({}, allocs), f"{uuid} is half there"
        assert held.get(uuid, {}) in ({}, allocs), f"{uuid} is half there on the providers"
    assert set(held) <= set(acked) | set(unknown), "a consumer nobody claimed holds resources"
    assert sum(len(log["ok_at"]) for log in logs) >= least, "the storm did not get going"


def _allocations_of(store: Store, uuid: str) -> Allocs:
    try:
        return store.get_allocations(uuid)[1]
    except ConsumerNotFound:
        return {}


def recovery_seconds(logs: list[Log], fault_at: float) -> float:
    """Until every worker had an acknowledged write again after the fault."""
    firsts = [min((t for t in log["ok_at"] if t > fault_at), default=-1.0) for log in logs]
    assert min(firsts) > 0, "a worker never recovered"
    return max(firsts) - fault_at


def stall_seconds(logs: list[Log], start: float | None, end: float) -> float:
    """The longest any worker went without an acknowledged write between ``start`` and
    ``end`` (wall-clock times; ``start`` None: from each worker's first, as its first
    write also prepares its statements): how long a fault stalled claims, if at all."""
    longest = 0.0
    for log in logs:
        since = min(log["ok_at"], default=end) if start is None else start
        times = [since, *sorted(t for t in log["ok_at"] if since < t < end), end]
        longest = max(longest, *(b - a for a, b in itertools.pairwise(times)))
    return longest
