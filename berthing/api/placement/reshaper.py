"""``POST /reshaper`` (1.30): replace the inventories of several providers and the
allocations of their consumers in one atomic write, as Nova does when inventory moves
from a compute node to a new child provider (VGPUs).

The providers' generations (from the body's inventories) and the consumers'
generations are compared in the same ``Store.commit``. A provider of the inventories
that does not exist is 400 ``placement.resource_provider.not_found``; inventory removed
while allocations remain on it is 409 ``placement.inventory.inuse``.
"""

from __future__ import annotations

import msgspec

from berthing.api.errors import ApiError
from berthing.api.placement.bodies import ConsumerBody
from berthing.api.placement.core import Call, Reply
from berthing.api.placement.inventories import ProviderInventories, to_inventories
from berthing.api.placement.writes import body_uuid, commit, consumer_part
from berthing.model import (
    AllocationChange,
    Inventory,
)

__all__ = ["ReshapeBody", "reshape"]


class ReshapeBody(msgspec.Struct, forbid_unknown_fields=True):
    inventories: dict[str, ProviderInventories]
    allocations: dict[str, ConsumerBody]


def reshape(call: Call) -> Reply:
    body = call.decode(ReshapeBody)
    if not body.inventories:
        raise ApiError(400, "The reshaper needs the inventories of at least one provider.")
    inventories: dict[str, dict[str, Inventory]] = {}
    generations: dict[str, int] = {}
    for key, part in body.inventories.items():
        p = body_uuid(key, "resource provider uuid")
        inventories[p] = to_inventories(part, call.version)
        generations[p] = part.resource_provider_generation
    consumers = tuple(
        consumer_part(call.store, key, cb, call.version, may_empty=True, where=f"Consumer {key}: ")
        for key, cb in body.allocations.items()
    )
    commit(call.store, AllocationChange(consumers, generations, inventories))
    return Reply(204)
