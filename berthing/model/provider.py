"""Resource providers: anything that has inventory (a compute host, a storage pool,
a NIC, a bare-metal node), arranged in trees through ``parent_uuid``/``root_uuid``."""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from berthing.model.errors import InvalidInput
from berthing.model.inventory import Inventory

__all__ = ["Provider", "ProviderState", "StoreShape", "new_uuid", "validate_uuid"]


def new_uuid() -> str:
    return str(uuidlib.uuid4())


def validate_uuid(value: object, what: str = "uuid") -> str:
    """Return the canonical form of a uuid, or raise naming the bad value."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string uuid, got {value!r}.")
    try:
        return str(uuidlib.UUID(value))
    except ValueError as exc:
        raise InvalidInput(f"{what} {value!r} is not a valid uuid.") from exc


@dataclass(frozen=True, slots=True)
class Provider:
    uuid: str
    name: str
    generation: int
    parent_uuid: str | None = None
    root_uuid: str | None = None
    traits: frozenset[str] = frozenset()
    aggregates: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ProviderState:
    """A provider with its inventories and usages as one consistent snapshot.

    This is what the scheduler's weighers read. It is a snapshot, never a cache:
    correctness comes from the claim's compare-and-set, not from this view.
    """

    provider: Provider
    inventories: Mapping[str, Inventory] = field(default_factory=dict)
    usages: Mapping[str, int] = field(default_factory=dict)

    def free(self, resource_class: str) -> int:
        inv = self.inventories.get(resource_class)
        if inv is None:
            return 0
        return inv.capacity - self.usages.get(resource_class, 0)

    def fits(self, resources: Mapping[str, int]) -> bool:
        for rc, amount in resources.items():
            inv = self.inventories.get(rc)
            if inv is None or not inv.fits(self.usages.get(rc, 0), amount):
                return False
        return True


@dataclass(frozen=True, slots=True)
class StoreShape:
    """Which kinds of provider exist at all. In a cloud of lone providers (no trees, no
    sharing) every candidate is one provider, and the candidate engine answers with
    one query; otherwise it looks at whole trees and their sharing providers."""

    nested: bool
    """Some provider has a parent."""
    sharing: bool
    """Some provider has the MISC_SHARES_VIA_AGGREGATE trait."""
