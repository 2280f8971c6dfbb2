"""Does a provider satisfy a ``ProviderQuery``? One predicate, used twice: on the
in-memory catalogue to pick candidates, and on the fresh snapshot read from etcd to
confirm them, so a stale catalogue can never return a provider that does not fit."""

from __future__ import annotations

import random
from collections.abc import Mapping

from berthing.model import Inventory, Provider, ProviderQuery, ProviderState

__all__ = ["SHUFFLE_SPAN", "matches", "seed_start"]

#: Providers get a fixed random rank in [0, SHUFFLE_SPAN) when created.
SHUFFLE_SPAN = 2**31


def seed_start(seed: int | None) -> int:
    """Where in the shuffled order a query starts: fixed per seed, random without one."""
    return (random.Random(seed) if seed is not None else random).randrange(SHUFFLE_SPAN)


def matches(
    query: ProviderQuery,
    provider: Provider,
    inventories: Mapping[str, Inventory],
    usages: Mapping[str, int],
    tree_root: str | None,
) -> bool:
    return query.matches(ProviderState(provider, inventories, usages), tree_root)
