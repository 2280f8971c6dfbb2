"""``/resource_classes`` and ``/resource_classes/{name}`` (1.2)."""

from __future__ import annotations

import msgspec

from berthing.api.errors import ApiError
from berthing.api.placement.core import Call, Reply
from berthing.model import ResourceClassNotFound, is_custom, validate_resource_class

__all__ = ["create", "delete", "list_classes", "put", "show"]

#: The pattern of Placement's schema for a new class's name.
CUSTOM_PATTERN = "^CUSTOM_[A-Z0-9_]+$"


class _Name(msgspec.Struct, forbid_unknown_fields=True):
    name: str


def _view(call: Call, name: str) -> dict[str, object]:
    return {
        "name": name,
        "links": [{"rel": "self", "href": f"{call.prefix}/resource_classes/{name}"}],
    }


def _custom(name: str, *, in_body: bool = False) -> str:
    """``name`` if it is a valid CUSTOM_ class; a name from a body is refused in the
    words of Placement's schema, which clients have seen for years."""
    try:
        validate_resource_class(name)
        if not is_custom(name):
            raise ValueError(f"{name} is a standard class; only CUSTOM_ classes can be made.")
    except ValueError as exc:
        if in_body:
            detail = f"JSON does not validate: {name!r} does not match '{CUSTOM_PATTERN}'. {exc}"
            raise ApiError(400, detail) from exc
        raise ApiError(400, str(exc)) from exc
    return name


def list_classes(call: Call) -> Reply:
    return Reply(
        body={"resource_classes": [_view(call, n) for n in call.store.list_resource_classes()]}
    )


def show(call: Call) -> Reply:
    name = call.params["name"]
    if name not in call.store.list_resource_classes():
        raise ResourceClassNotFound(name)
    return Reply(body=_view(call, name))


def create(call: Call) -> Reply:
    name = _custom(call.decode(_Name).name, in_body=True)
    if not call.store.ensure_resource_class(name):
        raise ApiError(
            409, f"Conflicting resource class {name} already exists.", "placement.duplicate_name"
        )
    return Reply(201, headers={"location": f"{call.prefix}/resource_classes/{name}"})


def put(call: Call) -> Reply:
    """1.2-1.6: rename (with a body); from 1.7: create or verify (no body)."""
    if call.at_least("1.7"):
        name = _custom(call.params["name"])
        created = call.store.ensure_resource_class(name)
        return Reply(
            201 if created else 204, headers={"location": f"{call.prefix}/resource_classes/{name}"}
        )
    if not call.body:
        raise ApiError(415, "Renaming a resource class needs a JSON body.")
    old = call.params["name"]
    if old not in call.store.list_resource_classes():
        raise ResourceClassNotFound(old)
    _custom(old)
    new = _custom(call.decode(_Name).name, in_body=True)
    call.store.rename_resource_class(old, new)
    return Reply(body=_view(call, new))


def delete(call: Call) -> Reply:
    call.store.delete_resource_class(call.params["name"])
    return Reply(204)
