"""The smallest end-to-end run: a store, a few providers, a few placements.

Placement here is the bare store query plus claim; the scheduler pipeline
(filters, weighers, retries) builds on exactly these two calls.
"""

from __future__ import annotations

import argparse
import random

from berthing.model import ClaimConflict, Claimed, Consumer, Inventory, ProviderQuery, new_uuid
from berthing.store import Store, open_store

__all__ = ["add_arguments", "run"]

SHAPES = {
    "small": {"VCPU": Inventory(8, allocation_ratio=4.0), "MEMORY_MB": Inventory(16384)},
    "large": {"VCPU": Inventory(32, allocation_ratio=2.0), "MEMORY_MB": Inventory(131072)},
}
FLAVORS = [{"VCPU": 2, "MEMORY_MB": 4096}, {"VCPU": 8, "MEMORY_MB": 16384}]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hosts", type=int, default=6, help="providers to register (default 6)")
    parser.add_argument("--requests", type=int, default=12, help="requests to place (default 12)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")


def _register(store: Store, hosts: int) -> None:
    for i in range(hosts):
        shape = "large" if i % 3 == 0 else "small"
        p = store.create_provider(f"compute-{new_uuid()[:8]}-{shape}")
        store.set_inventories(p.uuid, p.generation, SHAPES[shape])
        print(f"registered {p.name}")


def _place(store: Store, rng: random.Random, n: int) -> None:
    for i in range(n):
        flavor = rng.choice(FLAVORS)
        candidates = store.find_providers(ProviderQuery(flavor, limit=5, seed=rng.randrange(2**31)))
        if not candidates:
            print(f"request {i}: {flavor} -> no valid host: nothing has that much free")
            continue
        best = max(candidates, key=lambda c: c.free("MEMORY_MB"))
        result = store.claim(Consumer(new_uuid(), "demo", "demo"), {best.provider.uuid: flavor})
        if isinstance(result, Claimed):
            print(f"request {i}: {flavor} -> {best.provider.name}")
        elif isinstance(result, ClaimConflict):
            print(f"request {i}: {flavor} -> lost a race on {best.provider.name}: {result.kind}")


def run(args: argparse.Namespace) -> int:
    with open_store(args.store or "sqlite://") as store:
        print(f"store: {store.url}")
        _register(store, args.hosts)
        _place(store, random.Random(args.seed), args.requests)
    return 0
