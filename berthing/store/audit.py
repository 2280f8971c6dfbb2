"""Check the store's two invariants; used by the tests, the demo and ``berthing check``.

1. No provider is over capacity for any class.
2. Each provider's recorded usage equals the sum of the allocations against it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from berthing.model import ProviderQuery, ProviderState
from berthing.store.base import Store

__all__ = ["Audit", "audit", "survey"]


@dataclass(frozen=True, slots=True)
class Audit:
    """What an audit looked at, so that "0 problems" can be told from "nothing read"."""

    providers: int = 0
    consumers: int = 0
    allocations: int = 0
    """One per consumer, provider and resource class."""
    problems: list[str] = field(default_factory=list)


def audit(store: Store) -> list[str]:
    """Every violation found, as a sentence; empty when the store is sound."""
    return survey(store).problems


def survey(store: Store) -> Audit:
    """Audit every provider, counting what was read."""
    problems: list[str] = []
    consumers: set[str] = set()
    allocations = 0
    states = store.find_providers(ProviderQuery(fresh=True))
    for state in states:
        held = store.provider_allocations(state.provider.uuid)
        consumers.update(held)
        allocations += sum(len(per) for per in held.values())
        summed: Counter[str] = Counter()
        for per in held.values():
            summed.update(per)
        problems += _check(state, summed)
    return Audit(len(states), len(consumers), allocations, problems)


def _check(state: ProviderState, summed: Counter[str]) -> list[str]:
    problems = []
    name = state.provider.name
    for rc in set(state.inventories) | set(state.usages) | set(summed):
        used = state.usages.get(rc, 0)
        inv = state.inventories.get(rc)
        if inv is None and used:
            problems.append(f"{name}: {used} {rc} used without inventory")
        elif inv is not None and used > inv.capacity:
            problems.append(f"{name}: {rc} over capacity ({used} > {inv.capacity})")
        if used != summed.get(rc, 0):
            problems.append(f"{name}: {rc} usage {used} != allocations {summed.get(rc, 0)}")
    return problems
