"""``/resource_providers`` and ``/resource_providers/{uuid}``."""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType

from berthing.api.errors import ApiError
from berthing.api.placement.core import Call, Reply
from berthing.api.placement.query import (
    check_known,
    parse_aggregates,
    parse_resources,
    parse_traits,
    parse_uuid,
)
from berthing.api.placement.views import provider_view
from berthing.model import (
    NotFound,
    Provider,
    ProviderNotFound,
    ProviderQuery,
    ProviderState,
    validate_uuid,
)
from berthing.store import NewParent

__all__ = [
    "create",
    "delete",
    "list_providers",
    "provider_of",
    "provider_state_of",
    "show",
    "update",
]

_FILTERS = (
    ("1.0", "name"),
    ("1.0", "uuid"),
    ("1.3", "member_of"),
    ("1.4", "resources"),
    ("1.14", "in_tree"),
    ("1.18", "required"),
)


class _Create(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    uuid: str | UnsetType = UNSET
    parent_provider_uuid: str | None | UnsetType = UNSET


class _Update(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    parent_provider_uuid: str | None | UnsetType = UNSET


def provider_of(call: Call) -> Provider:
    """The provider named by the path, or 404 (a malformed uuid is 404 too)."""
    return provider_state_of(call).provider


def provider_state_of(call: Call) -> ProviderState:
    """The provider named by the path with its inventories and usages, or 404."""
    try:
        return call.store.get_provider_state(validate_uuid(call.params["uuid"], "provider uuid"))
    except (ProviderNotFound, ValueError) as exc:
        raise ApiError(404, f"No resource provider with uuid {call.params['uuid']} found.") from exc


def list_providers(call: Call) -> Reply:
    known = {name for since, name in _FILTERS if call.at_least(since)}
    check_known(list(call.query.keys()), known)
    query = _query(call)
    try:
        found = call.store.find_providers(query) if query is not None else []
    except ProviderNotFound:
        found = []  # in_tree naming no provider: nothing is in its tree
    except NotFound as exc:  # an unknown class or trait in the filter
        raise ApiError(400, exc.message) from exc
    return Reply(
        body={
            "resource_providers": [
                provider_view(s.provider, call.version, call.prefix) for s in found
            ]
        }
    )


def _query(call: Call) -> ProviderQuery | None:
    q = call.query
    aggs = (
        parse_aggregates("member_of", q.getlist("member_of"), call.version)
        if "member_of" in q
        else None
    )
    traits = (
        parse_traits("required", q.getlist("required"), call.version) if "required" in q else None
    )
    uuid = parse_uuid("uuid", q["uuid"]) if "uuid" in q else None
    return ProviderQuery(
        resources=parse_resources("resources", q["resources"]) if "resources" in q else {},
        required_traits=traits.required if traits else frozenset(),
        forbidden_traits=traits.forbidden if traits else frozenset(),
        any_traits=traits.any_of if traits else (),
        member_of=aggs.member_of if aggs else (),
        forbidden_aggregates=aggs.forbidden if aggs else frozenset(),
        in_tree=parse_uuid("in_tree", q["in_tree"]) if "in_tree" in q else None,
        name=q.get("name"),
        uuids=None if uuid is None else frozenset({uuid}),
    )


def show(call: Call) -> Reply:
    return Reply(body=provider_view(provider_of(call), call.version, call.prefix))


def create(call: Call) -> Reply:
    body = call.decode(_Create)
    if body.parent_provider_uuid is not UNSET and not call.at_least("1.14"):
        raise ApiError(400, "parent_provider_uuid needs microversion 1.14.")
    uuid = None if isinstance(body.uuid, UnsetType) else body.uuid
    parent = body.parent_provider_uuid if isinstance(body.parent_provider_uuid, str) else None
    p = call.store.create_provider(body.name, uuid, parent)
    location = {"location": f"{call.prefix}/resource_providers/{p.uuid}"}
    if not call.at_least("1.20"):
        return Reply(201, headers=location)
    return Reply(200, provider_view(p, call.version, call.prefix), location)


def update(call: Call) -> Reply:
    current = provider_of(call)
    body = call.decode(_Update)
    parent = None
    if body.parent_provider_uuid is not UNSET:
        if not call.at_least("1.14"):
            raise ApiError(400, "parent_provider_uuid needs microversion 1.14.")
        wanted = body.parent_provider_uuid
        assert not isinstance(wanted, UnsetType)
        if wanted != current.parent_uuid:
            if current.parent_uuid is not None and not call.at_least("1.37"):
                raise ApiError(
                    400, "Re-parenting or un-parenting a provider needs microversion 1.37."
                )
            if wanted is None and not call.at_least("1.37"):
                raise ApiError(400, "Un-parenting a provider needs microversion 1.37.")
            parent = NewParent(wanted)
    p = call.store.update_provider(current.uuid, name=body.name, parent=parent)
    return Reply(body=provider_view(p, call.version, call.prefix))


def delete(call: Call) -> Reply:
    call.store.delete_provider(provider_of(call).uuid)
    return Reply(204)
