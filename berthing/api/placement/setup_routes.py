"""The writes the allocation-candidate spec files set their clouds up with, at the
microversions they use (1.19+ bodies): a custom class or trait, a provider's
inventories, traits and aggregates, a consumer's allocations (PUT, DELETE).

Deliberately minimal: these routes belong to the inventories/traits/aggregates/
allocations work (branch placement-allocs), whose handlers supersede this module
whole; when they are merged, delete it and ``SETUP_ROUTES`` in ``routes``.
"""

from __future__ import annotations

import msgspec

from berthing.api.errors import UNDEFINED, ApiError
from berthing.api.placement.core import Call, Handler, Reply, Route
from berthing.api.placement.providers import provider_of
from berthing.model import ClaimConflict, ConflictKind, Consumer, Inventory

__all__ = ["SETUP_ROUTES"]

_RACES = (ConflictKind.CONSUMER_GENERATION, ConflictKind.PROVIDER_GENERATION)


class _Inventory(msgspec.Struct, forbid_unknown_fields=True):
    total: int
    reserved: int = 0
    min_unit: int = 1
    max_unit: int = 2147483647
    step_size: int = 1
    allocation_ratio: float = 1.0


class _Inventories(msgspec.Struct, forbid_unknown_fields=True):
    resource_provider_generation: int
    inventories: dict[str, _Inventory]


class _Traits(msgspec.Struct, forbid_unknown_fields=True):
    resource_provider_generation: int
    traits: list[str]


class _Aggregates(msgspec.Struct, forbid_unknown_fields=True):
    resource_provider_generation: int
    aggregates: list[str]


class _Resources(msgspec.Struct):
    resources: dict[str, int]


class _Allocations(msgspec.Struct):
    allocations: dict[str, _Resources]
    project_id: str
    user_id: str
    consumer_generation: int | None = None
    consumer_type: str | None = None
    mappings: dict[str, list[str]] | None = None


def put_resource_class(call: Call) -> Reply:
    return Reply(201 if call.store.ensure_resource_class(call.params["name"]) else 204)


def put_trait(call: Call) -> Reply:
    return Reply(201 if call.store.ensure_trait(call.params["name"]) else 204)


def put_inventories(call: Call) -> Reply:
    body = call.decode(_Inventories)
    inventories = {rc: Inventory(**msgspec.structs.asdict(i)) for rc, i in body.inventories.items()}
    p = call.store.set_inventories(
        provider_of(call).uuid, body.resource_provider_generation, inventories, below_use=True
    )
    shown = {rc: msgspec.structs.asdict(i) for rc, i in body.inventories.items()}
    return Reply(body={"resource_provider_generation": p.generation, "inventories": shown})


def put_traits(call: Call) -> Reply:
    body = call.decode(_Traits)
    p = call.store.set_traits(
        provider_of(call).uuid, body.resource_provider_generation, body.traits
    )
    return Reply(body={"traits": sorted(p.traits), "resource_provider_generation": p.generation})


def put_aggregates(call: Call) -> Reply:
    body = call.decode(_Aggregates)
    uuid = provider_of(call).uuid
    p = call.store.set_aggregates(uuid, body.resource_provider_generation, body.aggregates)
    return Reply(
        body={"aggregates": sorted(p.aggregates), "resource_provider_generation": p.generation}
    )


def put_allocations(call: Call) -> Reply:
    body = call.decode(_Allocations)
    consumer = Consumer(
        call.params["consumer"],
        body.project_id,
        body.user_id,
        body.consumer_generation,
        body.consumer_type,
    )
    wanted = {p: a.resources for p, a in body.allocations.items()}
    result = call.store.claim(consumer, wanted)
    if isinstance(result, ClaimConflict):
        code = "placement.concurrent_update" if result.kind in _RACES else UNDEFINED
        raise ApiError(409, f"Unable to allocate ({result.kind}): {result.detail}", code)
    return Reply(204)


def delete_allocations(call: Call) -> Reply:
    call.store.release(call.params["consumer"])
    return Reply(204)


SETUP_ROUTES: list[Route] = [
    Route("/resource_classes/{name}", {"PUT": Handler(put_resource_class, "placement:default")}),
    Route("/traits/{name}", {"PUT": Handler(put_trait, "placement:default")}),
    Route(
        "/resource_providers/{uuid}/inventories",
        {"PUT": Handler(put_inventories, "placement:default")},
    ),
    Route("/resource_providers/{uuid}/traits", {"PUT": Handler(put_traits, "placement:default")}),
    Route(
        "/resource_providers/{uuid}/aggregates",
        {"PUT": Handler(put_aggregates, "placement:default")},
    ),
    Route(
        "/allocations/{consumer}",
        {
            "PUT": Handler(put_allocations, "placement:default"),
            "DELETE": Handler(delete_allocations, "placement:default"),
        },
    ),
]
