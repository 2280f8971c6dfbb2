"""``/resource_providers/{uuid}/inventories`` and ``.../inventories/{resource_class}``.

Every change is a read of the provider's inventories and a write of all of them under
its generation: the store's one compare-and-set for inventories.
"""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType

from berthing.api.errors import ApiError
from berthing.api.placement.core import Call, Reply
from berthing.api.placement.microversion import Version
from berthing.api.placement.providers import provider_of
from berthing.model import (
    MAX_AMOUNT,
    InUse,
    InvalidInput,
    Inventory,
    NotFound,
    ProviderState,
    validate_resource_class,
)
from berthing.store.documents import inventory_doc

__all__ = [
    "ProviderInventories",
    "create",
    "delete",
    "delete_all",
    "list_inventories",
    "replace_all",
    "show",
    "to_inventories",
    "update",
]

CONCURRENT = "placement.concurrent_update"


class _Fields(msgspec.Struct, forbid_unknown_fields=True):
    total: int
    reserved: int = 0
    min_unit: int = 1
    max_unit: int = MAX_AMOUNT
    step_size: int = 1
    allocation_ratio: float = 1.0


class _OneNew(_Fields, forbid_unknown_fields=True):
    resource_class: str = ""


class _One(_Fields, forbid_unknown_fields=True):
    resource_provider_generation: int | UnsetType = UNSET


class _All(msgspec.Struct, forbid_unknown_fields=True):
    inventories: dict[str, _Fields]
    resource_provider_generation: int | UnsetType = UNSET


class ProviderInventories(msgspec.Struct, forbid_unknown_fields=True):
    """One provider's part of the reshaper."""

    resource_provider_generation: int
    inventories: dict[str, _Fields]


def to_inventories(body: ProviderInventories, version: Version) -> dict[str, Inventory]:
    return {_class(rc): _inventory(version, rc, f) for rc, f in body.inventories.items()}


def _inventory(version: Version, rc: str, f: _Fields) -> Inventory:
    if f.reserved >= f.total and not version.at_least("1.26") and f.total:
        raise ApiError(
            400, f"Unable to update inventory for {rc}: reserved must be below total before 1.26."
        )
    try:
        return Inventory(
            f.total, f.reserved, f.min_unit, f.max_unit, f.step_size, f.allocation_ratio
        )
    except InvalidInput as exc:  # Placement finds these with its schema: same prefix
        raise ApiError(400, f"JSON does not validate: {exc}") from exc


def _generation(value: int | UnsetType) -> int:
    if isinstance(value, UnsetType):
        raise ApiError(400, "'resource_provider_generation' is a required property.")
    return value


def _state(call: Call) -> ProviderState:
    return call.store.get_provider_state(provider_of(call).uuid)


def _all_view(generation: int, inventories: dict[str, Inventory]) -> dict[str, object]:
    return {
        "resource_provider_generation": generation,
        "inventories": {rc: inventory_doc(inv) for rc, inv in inventories.items()},
    }


def _write(
    call: Call, state: ProviderState, generation: int, invs: dict[str, Inventory], in_use_code: str
) -> int:
    """Write all inventories; an unknown class is 400, a class in use 409."""
    try:
        written = call.store.set_inventories(state.provider.uuid, generation, invs, below_use=True)
    except InUse as exc:
        raise ApiError(409, exc.message, in_use_code) from exc
    except NotFound as exc:
        raise ApiError(400, exc.message) from exc
    return written.generation


def list_inventories(call: Call) -> Reply:
    state = _state(call)
    return Reply(body=_all_view(state.provider.generation, dict(state.inventories)))


def replace_all(call: Call) -> Reply:
    state = _state(call)
    body = call.decode(_All)
    generation = _generation(body.resource_provider_generation)
    invs = {_class(rc): _inventory(call.version, rc, f) for rc, f in body.inventories.items()}
    new = _write(call, state, generation, invs, "placement.inventory.inuse")
    return Reply(body=_all_view(new, invs))


def delete_all(call: Call) -> Reply:
    state = _state(call)
    _write(call, state, state.provider.generation, {}, "placement.inventory.inuse")
    return Reply(204)


def create(call: Call) -> Reply:
    state = _state(call)
    body = call.decode(_OneNew)
    rc = _class(body.resource_class)
    if rc in state.inventories:
        raise ApiError(409, f"{rc} inventory exists already on {state.provider.uuid}.", CONCURRENT)
    inv = _inventory(call.version, rc, body)
    new = _write(call, state, state.provider.generation, {**state.inventories, rc: inv}, CONCURRENT)
    location = {
        "location": f"{call.prefix}/resource_providers/{state.provider.uuid}/inventories/{rc}"
    }
    return Reply(201, {**inventory_doc(inv), "resource_provider_generation": new}, location)


def show(call: Call) -> Reply:
    state = _state(call)
    inv = state.inventories.get(call.params["resource_class"])
    if inv is None:
        raise ApiError(
            404, f"No inventory of {call.params['resource_class']} on {state.provider.uuid}."
        )
    return Reply(
        body={**inventory_doc(inv), "resource_provider_generation": state.provider.generation}
    )


def update(call: Call) -> Reply:
    state = _state(call)
    body = call.decode(_One)
    rc = _class(call.params["resource_class"])
    generation = _generation(body.resource_provider_generation)
    if rc not in state.inventories:
        raise ApiError(400, f"No inventory record of {rc} on {state.provider.uuid} to update.")
    inv = _inventory(call.version, rc, body)
    new = _write(call, state, generation, {**state.inventories, rc: inv}, CONCURRENT)
    return Reply(body={**inventory_doc(inv), "resource_provider_generation": new})


def delete(call: Call) -> Reply:
    state = _state(call)
    rc = call.params["resource_class"]
    if rc not in state.inventories:
        raise ApiError(404, f"No inventory of {rc} on {state.provider.uuid}.")
    rest = {k: v for k, v in state.inventories.items() if k != rc}
    # Placement reports a class in use here as a concurrent update, unlike the PUT.
    _write(call, state, state.provider.generation, rest, CONCURRENT)
    return Reply(204)


def _class(name: str) -> str:
    try:
        return validate_resource_class(name)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from exc
