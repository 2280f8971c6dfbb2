"""A scheduler in its own OS process, placing a seeded stream of requests."""

from __future__ import annotations

import json
import random
from pathlib import Path

from berthing.model import RequestSpec
from berthing.scheduler import NoValidHost, Scheduler
from berthing.store import open_store

FLAVORS = [
    {"VCPU": 1, "MEMORY_MB": 1024},
    {"VCPU": 2, "MEMORY_MB": 2048},
    {"VCPU": 4, "MEMORY_MB": 4096},
]


def run(url: str, requests: int, seed: int, group: str, out: str) -> None:
    store = open_store(url)
    scheduler = Scheduler(store, rng=random.Random(seed))
    rng = random.Random(seed)
    placed: dict[str, dict[str, dict[str, int]]] = {}
    failed = 0
    for i in range(requests):
        in_group = i % 10 == 0
        spec = RequestSpec(rng.choice(FLAVORS), server_group=group if in_group else None)
        try:
            for sel in scheduler.select_destinations(spec):
                placed[sel.consumer.uuid] = {
                    p: dict(r) for p, r in sel.destination.allocations.items()
                }
        except NoValidHost:
            failed += 1
    m = scheduler.metrics
    Path(out).write_text(
        json.dumps(
            {
                "placed": placed,
                "failed": failed,
                "conflicts": m.conflicts,
                "retries": m.retries,
            }
        )
    )
    store.close()
