"""Response payloads, as Placement shapes them at each microversion.

Typed values (msgspec Structs); a field that a version does not have is ``UNSET`` and
left out of the JSON, so one type serves every version.
"""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType

from berthing.api.placement.microversion import Version
from berthing.model import Consumer, Inventory, Provider

__all__ = [
    "UNKNOWN_TYPE",
    "ConsumerAllocationsView",
    "ConsumerProviderView",
    "InventoriesView",
    "InventoryView",
    "Link",
    "OneInventoryView",
    "ProviderAllocationsView",
    "ProviderConsumerView",
    "ProviderUsagesView",
    "ProviderView",
    "UsagesView",
    "consumer_view",
    "inventory_view",
    "provider_view",
]


class Link(msgspec.Struct, frozen=True):
    rel: str
    href: str


class ProviderView(msgspec.Struct, frozen=True, omit_defaults=True):
    uuid: str
    name: str
    generation: int
    links: list[Link]
    parent_provider_uuid: str | None | UnsetType = UNSET
    root_provider_uuid: str | UnsetType = UNSET


_LINKS = (
    ("1.0", "inventories"),
    ("1.0", "usages"),
    ("1.1", "aggregates"),
    ("1.6", "traits"),
    ("1.11", "allocations"),
)


def provider_view(p: Provider, version: Version, prefix: str) -> ProviderView:
    base = f"{prefix}/resource_providers/{p.uuid}"
    links = [Link("self", base)]
    links += [Link(rel, f"{base}/{rel}") for since, rel in _LINKS if version.at_least(since)]
    if not version.at_least("1.14"):
        return ProviderView(p.uuid, p.name, p.generation, links)
    return ProviderView(p.uuid, p.name, p.generation, links, p.parent_uuid, p.root_uuid or p.uuid)


# -- resource classes, traits, aggregates ---------------------------------------------------


class ResourceClassView(msgspec.Struct, frozen=True):
    name: str
    links: list[Link]


class ResourceClassesView(msgspec.Struct, frozen=True):
    resource_classes: list[ResourceClassView]


class TraitsView(msgspec.Struct, frozen=True):
    """``GET /traits``; a provider's traits add its generation."""

    traits: list[str]
    resource_provider_generation: int | UnsetType = UNSET


class AggregatesView(msgspec.Struct, frozen=True):
    """A provider's aggregates; its generation from 1.19."""

    aggregates: list[str]
    resource_provider_generation: int | UnsetType = UNSET


# -- inventories ---------------------------------------------------------------------------


class InventoryView(msgspec.Struct, frozen=True, kw_only=True):
    total: int
    reserved: int
    min_unit: int
    max_unit: int
    step_size: int
    allocation_ratio: float


class OneInventoryView(InventoryView, frozen=True, kw_only=True):
    """One class's inventory: the record with the provider's generation."""

    resource_provider_generation: int


class InventoriesView(msgspec.Struct, frozen=True):
    resource_provider_generation: int
    inventories: dict[str, InventoryView]


def inventory_view(inv: Inventory) -> InventoryView:
    return InventoryView(
        total=inv.total,
        reserved=inv.reserved,
        min_unit=inv.min_unit,
        max_unit=inv.max_unit,
        step_size=inv.step_size,
        allocation_ratio=float(inv.allocation_ratio),  # Placement's column is a float
    )


# -- allocations and usages ------------------------------------------------------------------


class ConsumerProviderView(msgspec.Struct, frozen=True):
    resources: dict[str, int]
    generation: int
    """The provider's generation."""


class ConsumerAllocationsView(msgspec.Struct, frozen=True):
    """``GET /allocations/{consumer}``: project and user from 1.12, the consumer's
    generation from 1.28, its type from 1.38; only the allocations for a consumer
    that holds none."""

    allocations: dict[str, ConsumerProviderView]
    project_id: str | UnsetType = UNSET
    user_id: str | UnsetType = UNSET
    consumer_generation: int | None | UnsetType = UNSET
    consumer_type: str | UnsetType = UNSET


#: Placement's name for consumers written before 1.38, which have no type.
UNKNOWN_TYPE = "unknown"


def consumer_view(
    consumer: Consumer,
    allocations: dict[str, dict[str, int]],
    generations: dict[str, int],
    version: Version,
) -> ConsumerAllocationsView:
    held = {
        p: ConsumerProviderView(per, generations[p])
        for p, per in allocations.items()
        if p in generations
    }
    if not held or not version.at_least("1.12"):
        return ConsumerAllocationsView(held)
    return ConsumerAllocationsView(
        held,
        consumer.project_id,
        consumer.user_id,
        consumer.generation if version.at_least("1.28") else UNSET,
        (consumer.consumer_type or UNKNOWN_TYPE) if version.at_least("1.38") else UNSET,
    )


class ProviderConsumerView(msgspec.Struct, frozen=True):
    resources: dict[str, int]
    consumer_generation: int | None | UnsetType = UNSET
    """From 1.28."""


class ProviderAllocationsView(msgspec.Struct, frozen=True):
    resource_provider_generation: int
    allocations: dict[str, ProviderConsumerView]


class ProviderUsagesView(msgspec.Struct, frozen=True):
    resource_provider_generation: int
    usages: dict[str, int]


class UsagesView(msgspec.Struct, frozen=True):
    """``GET /usages``: amounts per class; from 1.38 per consumer type, each group with
    its ``consumer_count``."""

    usages: dict[str, int] | dict[str, dict[str, int]]
