"""A worker process that claims and releases at random against a shared store.

Lives in its own module so that ``spawn`` can import it in a fresh interpreter: each
worker is a real OS process with its own connection, as schedulers would be.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from berthing.model import Claimed, Consumer, new_uuid
from berthing.store import open_store


def storm(url: str, providers: list[str], claims: int, seed: int, out: str) -> None:
    rng = random.Random(seed)
    store = open_store(url)
    live: dict[str, dict[str, dict[str, int]]] = {}
    released: list[str] = []
    conflicts = 0
    for _ in range(claims):
        allocs = {rng.choice(providers): {"VCPU": rng.randint(1, 4), "MEMORY_MB": 512}}
        result = store.claim(Consumer(new_uuid(), f"p{seed}", "u"), allocs)
        if isinstance(result, Claimed):
            live[result.consumer.uuid] = allocs
        else:
            conflicts += 1
        if live and rng.random() < 0.25:
            gone = rng.choice(sorted(live))
            store.release(gone)
            released.append(gone)
            del live[gone]
    store.close()
    Path(out).write_text(json.dumps({"live": live, "released": released, "conflicts": conflicts}))
