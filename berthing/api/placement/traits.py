"""``/traits``, ``/traits/{name}`` and ``/resource_providers/{uuid}/traits`` (1.6).

Standard traits always exist; custom ones (``CUSTOM_*``) are created by PUT (201, then
204) and checked by GET (204, no body). A provider's traits are replaced whole under
its generation (409 ``placement.concurrent_update`` if it moved on).
"""

from __future__ import annotations

import msgspec

from berthing.api.errors import ApiError
from berthing.api.placement.core import Call, Reply
from berthing.api.placement.providers import provider_of
from berthing.api.placement.query import check_known
from berthing.api.placement.views import TraitsView
from berthing.model import InUse, InvalidInput, ProviderQuery, TraitNotFound, is_custom
from berthing.model import validate_trait as _validate_trait

__all__ = [
    "check",
    "delete",
    "delete_for_provider",
    "ensure",
    "list_all",
    "list_for_provider",
    "set_for_provider",
]


class _ProviderTraits(msgspec.Struct, forbid_unknown_fields=True):
    resource_provider_generation: int
    traits: list[str]


def list_all(call: Call) -> Reply:
    """``name=in:A,B`` or ``name=startswith:P``; ``associated=true|false``: traits some
    provider has (or none has)."""
    check_known(list(call.query.keys()), {"name", "associated"})
    names = call.store.list_traits()
    if "name" in call.query:
        names = _by_name(names, call.query["name"])
    if "associated" in call.query:
        wanted = _associated(call.query["associated"])
        used = _used_traits(call)
        names = [n for n in names if (n in used) == wanted]
    return Reply(body=TraitsView(names))


def _by_name(names: list[str], value: str) -> list[str]:
    op, sep, arg = value.partition(":")
    if sep and op == "in":
        wanted = set(arg.split(","))
        return [n for n in names if n in wanted]
    if sep and op == "startswith":
        return [n for n in names if n.startswith(arg)]
    raise ApiError(
        400, f"Query parameter name={value!r} must be in:NAME1,NAME2 or startswith:PREFIX."
    )


def _associated(value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise ApiError(400, f"Query parameter associated={value!r} must be true or false.")
    return value.lower() == "true"


def _used_traits(call: Call) -> set[str]:
    # The store has no index of traits in use: every provider is read (an admin query).
    return {
        t for state in call.store.find_providers(ProviderQuery()) for t in state.provider.traits
    }


def check(call: Call) -> Reply:
    """204 if the trait exists (with caching headers: it is a GET), 404 if not."""
    name = call.params["name"]
    if name not in call.store.list_traits():
        raise ApiError(404, f"No trait named {name}.")
    return Reply(204)


def ensure(call: Call) -> Reply:
    name = call.params["name"]
    if not is_custom(name):
        raise ApiError(400, f"A new trait must be named CUSTOM_..., got {name!r}.")
    try:
        created = call.store.ensure_trait(_validate_trait(name))
    except InvalidInput as exc:
        raise ApiError(400, exc.message) from exc
    location = {"location": f"{call.prefix}/traits/{name}"}
    return Reply(201 if created else 204, headers=location, cache=True)


def delete(call: Call) -> Reply:
    """400 for a standard trait, 409 for one a provider has, 404 for a missing one."""
    try:
        call.store.delete_trait(call.params["name"])
    except InUse as exc:  # Placement has no code for this one
        raise ApiError(409, exc.message) from exc
    return Reply(204)


# -- a provider's traits --------------------------------------------------------------------


def list_for_provider(call: Call) -> Reply:
    p = provider_of(call)
    return Reply(body=TraitsView(sorted(p.traits), p.generation))


def set_for_provider(call: Call) -> Reply:
    uuid = provider_of(call).uuid
    body = call.decode(_ProviderTraits)
    try:
        p = call.store.set_traits(uuid, body.resource_provider_generation, body.traits)
    except (TraitNotFound, InvalidInput) as exc:
        raise ApiError(400, exc.message) from exc
    return Reply(body=TraitsView(sorted(p.traits), p.generation))


def delete_for_provider(call: Call) -> Reply:
    """No generation from the client: the one just read (409 if it moved on since)."""
    p = provider_of(call)
    call.store.set_traits(p.uuid, p.generation, [])
    return Reply(204)
