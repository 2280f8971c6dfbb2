from __future__ import annotations

from collections.abc import Iterable, Mapping

from berthing.model import Consumer, Inventory, Provider, new_uuid
from berthing.store import Store


def host(
    store: Store,
    name: str,
    inventories: Mapping[str, Inventory] | None = None,
    traits: Iterable[str] = (),
    aggregates: Iterable[str] = (),
    parent: str | None = None,
) -> Provider:
    """A provider with inventories, traits and aggregates set."""
    p = store.create_provider(name, parent_uuid=parent)
    invs = (
        inventories
        if inventories is not None
        else {"VCPU": Inventory(8), "MEMORY_MB": Inventory(16384), "DISK_GB": Inventory(100)}
    )
    p = store.set_inventories(p.uuid, p.generation, invs)
    if traits:
        p = store.set_traits(p.uuid, p.generation, traits)
    if aggregates:
        p = store.set_aggregates(p.uuid, p.generation, aggregates)
    return p


def consumer(project: str = "proj", user: str = "user") -> Consumer:
    return Consumer(new_uuid(), project, user)
