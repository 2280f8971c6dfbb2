"""``/resource_classes`` and ``/resource_classes/{name}`` (1.2).

The standard classes always exist and cannot change; custom ones (``CUSTOM_*``) are
created by POST, or from 1.7 by a bodiless PUT that creates or verifies (201/204, as
Nova ensures its classes). From 1.2 to 1.6 PUT renames a custom class.
"""

from __future__ import annotations

import msgspec

from berthing.api.errors import ApiError
from berthing.api.placement.core import Call, Reply
from berthing.api.placement.views import Link, ResourceClassesView, ResourceClassView
from berthing.model import (
    InUse,
    InvalidInput,
    ResourceClassNotFound,
    is_custom,
    validate_resource_class,
)

__all__ = ["create", "delete", "list_all", "show", "update"]


class _Name(msgspec.Struct, forbid_unknown_fields=True):
    name: str


def _view(call: Call, name: str) -> ResourceClassView:
    return ResourceClassView(name, [Link("self", f"{call.prefix}/resource_classes/{name}")])


def _location(call: Call, name: str) -> dict[str, str]:
    return {"location": f"{call.prefix}/resource_classes/{name}"}


def _existing(call: Call, name: str) -> str:
    if name not in call.store.list_resource_classes():
        raise ApiError(404, f"No resource class named {name}.")
    return name


def list_all(call: Call) -> Reply:
    names = call.store.list_resource_classes()
    return Reply(body=ResourceClassesView([_view(call, n) for n in names]))


def show(call: Call) -> Reply:
    return Reply(body=_view(call, _existing(call, call.params["name"])))


def create(call: Call) -> Reply:
    name = _custom_name(call.decode(_Name).name)
    if not call.store.ensure_resource_class(name):
        raise ApiError(409, f"Conflicting resource class already exists: {name}.")
    return Reply(201, headers=_location(call, name))


def update(call: Call) -> Reply:
    """From 1.7 create-or-verify without a body; before, rename with one."""
    if not call.at_least("1.7"):
        return _rename(call)
    name = _custom_name(call.params["name"])
    created = call.store.ensure_resource_class(name)
    return Reply(201 if created else 204, headers=_location(call, name))


def _rename(call: Call) -> Reply:
    """Rename (1.2-1.6). The store has no rename: the new class is created and the old
    one deleted, and a class that inventories use cannot be renamed (409) -- unlike
    Placement, which renames it in place. Nothing is left half-done: a refused delete
    takes the new class back."""
    old = call.params["name"]
    new = _custom_name(call.decode(_Name).name)
    if not is_custom(old):
        raise ApiError(400, f"Cannot update standard resource class {old}.")
    _existing(call, old)
    if not call.store.ensure_resource_class(new):
        raise ApiError(409, f"Resource class already exists: {new}.")
    try:
        call.store.delete_resource_class(old)
    except (InUse, ResourceClassNotFound) as exc:
        call.store.delete_resource_class(new)
        raise ApiError(409, f"Cannot rename {old}: {exc.message}") from exc
    return Reply(body=_view(call, new))


def delete(call: Call) -> Reply:
    """400 for a standard class, 409 for one with inventory, 404 for a missing one."""
    try:
        call.store.delete_resource_class(call.params["name"])
    except InUse as exc:  # Placement has no code for this one
        raise ApiError(409, exc.message) from exc
    return Reply(204)


def _custom_name(name: str) -> str:
    if not is_custom(name):
        raise ApiError(400, f"A new resource class must be named CUSTOM_..., got {name!r}.")
    try:
        return validate_resource_class(name)
    except InvalidInput as exc:
        raise ApiError(400, exc.message) from exc
