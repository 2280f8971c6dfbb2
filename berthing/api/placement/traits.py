"""``/traits``, ``/traits/{name}`` and ``/resource_providers/{uuid}/traits`` (1.6)."""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType

from berthing.api.errors import ApiError
from berthing.api.placement.core import Call, Reply
from berthing.api.placement.providers import provider_of
from berthing.api.placement.query import check_known
from berthing.model import (
    NotFound,
    Provider,
    ProviderQuery,
    TraitNotFound,
    is_custom,
    validate_trait,
)

__all__ = [
    "delete",
    "delete_provider_traits",
    "list_traits",
    "provider_traits",
    "put",
    "set_provider_traits",
    "show",
]


class _ProviderTraits(msgspec.Struct, forbid_unknown_fields=True):
    traits: list[str]
    resource_provider_generation: int | UnsetType = UNSET


def list_traits(call: Call) -> Reply:
    check_known(list(call.query.keys()), {"name", "associated"})
    names = call.store.list_traits()
    name = call.query.get("name")
    if name is not None:
        names = _by_name(names, name)
    associated = call.query.get("associated")
    if associated is not None:
        used = _associated(call)
        wanted = _boolean("associated", associated)
        names = [n for n in names if (n in used) == wanted]
    return Reply(body={"traits": names})


def _by_name(names: list[str], value: str) -> list[str]:
    if value.startswith("in:"):
        wanted = set(value[3:].split(","))
        return [n for n in names if n in wanted]
    if value.startswith("startswith:"):
        return [n for n in names if n.startswith(value[len("startswith:") :])]
    raise ApiError(400, f"Badly formatted name parameter {value!r}: use 'in:' or 'startswith:'.")


def _boolean(param: str, value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise ApiError(400, f"{param} must be true or false, got {value!r}.")
    return value.lower() == "true"


def _associated(call: Call) -> set[str]:
    return {t for s in call.store.find_providers(ProviderQuery()) for t in s.provider.traits}


def show(call: Call) -> Reply:
    name = call.params["name"]
    if name not in call.store.list_traits():
        raise TraitNotFound(name)
    return Reply(204)


def put(call: Call) -> Reply:
    name = _custom_name(call.params["name"])
    created = call.store.ensure_trait(name)
    return Reply(
        201 if created else 204, headers={"location": f"{call.prefix}/traits/{name}"}, cache=True
    )


def delete(call: Call) -> Reply:
    call.store.delete_trait(call.params["name"])
    return Reply(204)


def _custom_name(name: str) -> str:
    try:
        validate_trait(name)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from exc
    if not is_custom(name):
        raise ApiError(400, f"{name} is a standard trait; only CUSTOM_ traits can be created.")
    return name


def _provider_view(p: Provider) -> dict[str, object]:
    return {"traits": sorted(p.traits), "resource_provider_generation": p.generation}


def provider_traits(call: Call) -> Reply:
    return Reply(body=_provider_view(provider_of(call)))


def set_provider_traits(call: Call) -> Reply:
    p = provider_of(call)
    body = call.decode(_ProviderTraits)
    if isinstance(body.resource_provider_generation, UnsetType):
        raise ApiError(400, "'resource_provider_generation' is a required property.")
    try:
        return Reply(
            body=_provider_view(
                call.store.set_traits(p.uuid, body.resource_provider_generation, body.traits)
            )
        )
    except NotFound as exc:
        raise ApiError(400, exc.message) from exc


def delete_provider_traits(call: Call) -> Reply:
    p = provider_of(call)
    call.store.set_traits(p.uuid, p.generation, [])
    return Reply(204)
