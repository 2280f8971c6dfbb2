"""The fixed random order candidate queries walk, shared by every backend.

Each provider gets a random rank in ``[0, SHUFFLE_SPAN)`` when it is created. A query
with a limit starts at a seed-chosen rank and walks upwards (wrapping around), so
parallel schedulers asking the same question look at different slices of the cloud
and collide less, while one seed always gives the same slice.
"""

from __future__ import annotations

import random

__all__ = ["SHUFFLE_SPAN", "new_rank", "seed_start"]

SHUFFLE_SPAN = 2**31


def new_rank() -> int:
    """A new provider's place in the shuffled order."""
    return random.randrange(SHUFFLE_SPAN)


def seed_start(seed: int | None) -> int:
    """Where in the shuffled order a query starts: fixed per seed, random without one."""
    return (random.Random(seed) if seed is not None else random).randrange(SHUFFLE_SPAN)
