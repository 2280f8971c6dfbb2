"""``/resource_providers/{uuid}/inventories`` and ``.../inventories/{resource_class}``.

Every write replaces the provider's whole inventory under its generation
(``Store.set_inventories``): PUT of all names the generation; POST, PUT and DELETE of
one class take the generation the client sent (PUT) or the one just read, so a
concurrent change is a 409 ``placement.concurrent_update`` rather than a lost update.
Shrinking a total below what is allocated is allowed (hosts shrink); removing a class
that has allocations is not, with a code that depends on the route, as in Placement.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from berthing.api.errors import CONCURRENT_UPDATE, ApiError
from berthing.api.placement.core import Call, Reply
from berthing.api.placement.microversion import Version
from berthing.api.placement.providers import provider_state_of
from berthing.api.placement.views import (
    InventoriesView,
    OneInventoryView,
    inventory_view,
)
from berthing.model import (
    MAX_AMOUNT,
    InUse,
    Inventory,
    Provider,
    ResourceClassNotFound,
    validate_resource_class,
)

__all__ = [
    "InventoryRecord",
    "NewInventory",
    "ProviderInventories",
    "create",
    "delete",
    "delete_all",
    "list_all",
    "replace",
    "replace_all",
    "show",
    "to_inventories",
]

#: Placement's bound on allocation_ratio (a single-precision SQL float).
MAX_RATIO = 3.40282e38
Count = Annotated[int, Meta(ge=0, le=MAX_AMOUNT)]
Positive = Annotated[int, Meta(ge=1, le=MAX_AMOUNT)]


class InventoryRecord(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    total: Positive
    reserved: Count = 0
    min_unit: Positive = 1
    max_unit: Positive = MAX_AMOUNT
    step_size: Positive = 1
    allocation_ratio: Annotated[float, Meta(le=MAX_RATIO)] = 1.0
    resource_provider_generation: int | UnsetType = UNSET
    """Required by PUT of one class; accepted and ignored inside PUT of all."""


class NewInventory(InventoryRecord, forbid_unknown_fields=True, kw_only=True):
    """``POST .../inventories``: one class, no generation needed."""

    resource_class: str


class ProviderInventories(msgspec.Struct, forbid_unknown_fields=True):
    """``PUT .../inventories``, and one provider's part of the reshaper."""

    resource_provider_generation: int
    inventories: dict[str, InventoryRecord]


def to_inventory(rc: str, record: InventoryRecord, version: Version) -> Inventory:
    """The model's inventory (which checks reserved <= total, min_unit <= max_unit);
    reserved == total is allowed only from 1.26."""
    validate_resource_class(rc)
    if record.reserved >= record.total and not version.at_least("1.26"):
        raise ApiError(
            400, f"Inventory of {rc}: reserved must be less than total before microversion 1.26."
        )
    return Inventory(
        record.total,
        record.reserved,
        record.min_unit,
        record.max_unit,
        record.step_size,
        record.allocation_ratio,
    )


def to_inventories(body: ProviderInventories, version: Version) -> dict[str, Inventory]:
    return {rc: to_inventory(rc, record, version) for rc, record in body.inventories.items()}


# -- handlers ----------------------------------------------------------------------------------


def list_all(call: Call) -> Reply:
    state = provider_state_of(call)
    return Reply(body=_all_view(state.provider, state.inventories))


def show(call: Call) -> Reply:
    state = provider_state_of(call)
    rc = call.params["resource_class"]
    if rc not in state.inventories:
        raise ApiError(404, f"No inventory of {rc} on resource provider {state.provider.uuid}.")
    return Reply(body=_one_view(state.provider, state.inventories[rc]))


def replace_all(call: Call) -> Reply:
    state = provider_state_of(call)
    body = call.decode(ProviderInventories)
    invs = to_inventories(body, call.version)
    p = _write(call, state.provider.uuid, body.resource_provider_generation, invs)
    return Reply(body=_all_view(p, invs))


def create(call: Call) -> Reply:
    """201 with a Location; a class the provider has already is a conflict."""
    state = provider_state_of(call)
    body = call.decode(NewInventory)
    rc = body.resource_class
    inv = to_inventory(rc, body, call.version)
    if rc in state.inventories:
        raise ApiError(
            409, f"Resource provider {state.provider.uuid} has {rc} already.", CONCURRENT_UPDATE
        )
    p = _write(call, state.provider.uuid, state.provider.generation, {**state.inventories, rc: inv})
    location = f"{call.prefix}/resource_providers/{p.uuid}/inventories/{rc}"
    return Reply(201, _one_view(p, inv), {"location": location})


def replace(call: Call) -> Reply:
    """PUT of one class: the record must exist (400 otherwise), the generation is the
    client's."""
    state = provider_state_of(call)
    rc = call.params["resource_class"]
    body = call.decode(InventoryRecord)
    if not isinstance(body.resource_provider_generation, int):
        raise ApiError(400, "resource_provider_generation is required.")
    inv = to_inventory(rc, body, call.version)
    if rc not in state.inventories:
        raise ApiError(
            400, f"Resource provider {state.provider.uuid} has no {rc} inventory to update."
        )
    p = _write(
        call, state.provider.uuid, body.resource_provider_generation, {**state.inventories, rc: inv}
    )
    return Reply(body=_one_view(p, inv))


def delete(call: Call) -> Reply:
    """Placement answers a class in use with ``concurrent_update`` on this route."""
    state = provider_state_of(call)
    rc = call.params["resource_class"]
    if rc not in state.inventories:
        raise ApiError(404, f"No inventory of {rc} on resource provider {state.provider.uuid}.")
    remaining = {k: v for k, v in state.inventories.items() if k != rc}
    try:
        _write(call, state.provider.uuid, state.provider.generation, remaining)
    except InUse as exc:
        raise ApiError(409, exc.message, CONCURRENT_UPDATE) from exc
    return Reply(204)


def delete_all(call: Call) -> Reply:
    state = provider_state_of(call)
    _write(call, state.provider.uuid, state.provider.generation, {})
    return Reply(204)


def _write(call: Call, uuid: str, generation: int, invs: Mapping[str, Inventory]) -> Provider:
    """Replace the inventories (an unknown class is 400, not the store's 404)."""
    try:
        return call.store.set_inventories(uuid, generation, invs, below_use=True)
    except ResourceClassNotFound as exc:
        raise ApiError(400, exc.message) from exc


def _all_view(p: Provider, invs: Mapping[str, Inventory]) -> InventoriesView:
    return InventoriesView(p.generation, {rc: inventory_view(inv) for rc, inv in invs.items()})


def _one_view(p: Provider, inv: Inventory) -> OneInventoryView:
    view = inventory_view(inv)
    return OneInventoryView(
        **msgspec.structs.asdict(view), resource_provider_generation=p.generation
    )
