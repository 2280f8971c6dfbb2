"""Check the store's two invariants; used by the tests, the demo and ``berthing check``.

1. No provider is over capacity for any class.
2. Each provider's recorded usage equals the sum of the allocations against it.
"""

from __future__ import annotations

from collections import Counter

from berthing.model import ProviderQuery
from berthing.store.base import Store

__all__ = ["audit"]


def audit(store: Store) -> list[str]:
    """Every violation found, as a sentence; empty when the store is sound."""
    problems: list[str] = []
    for state in store.find_providers(ProviderQuery(fresh=True)):
        uuid = state.provider.uuid
        summed: Counter[str] = Counter()
        for per in store.provider_allocations(uuid).values():
            summed.update(per)
        for rc in set(state.inventories) | set(state.usages) | set(summed):
            used = state.usages.get(rc, 0)
            inv = state.inventories.get(rc)
            if inv is None and used:
                problems.append(f"{state.provider.name}: {used} {rc} used without inventory")
            elif inv is not None and used > inv.capacity:
                problems.append(
                    f"{state.provider.name}: {rc} over capacity ({used} > {inv.capacity})"
                )
            if used != summed.get(rc, 0):
                problems.append(
                    f"{state.provider.name}: {rc} usage {used} != allocations {summed.get(rc, 0)}"
                )
    return problems
