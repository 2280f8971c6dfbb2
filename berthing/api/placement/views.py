"""Response payloads, as Placement shapes them at each microversion.

Typed values (msgspec Structs); a field that a version does not have is ``UNSET`` and
left out of the JSON, so one type serves every version.
"""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType

from berthing.api.placement.microversion import Version
from berthing.model import Provider

__all__ = ["Link", "ProviderView", "provider_view"]


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
