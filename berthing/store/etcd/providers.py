"""Providers, inventories, traits, aggregates and custom names as optimistic
transactions (see ``stm.py``): each function reads what it decides on and stages its
writes; the caller commits them in one etcd transaction.

Deletes that must not orphan anything are guarded by index prefixes (``children/``,
``class_use/``, ``trait_use/``, ``allocations/``): the delete commits only if the
prefix is still empty, and every writer that adds to it compares the key it depends on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from berthing.model import (
    DuplicateName,
    GenerationConflict,
    InUse,
    InvalidInput,
    Inventory,
    Provider,
    ProviderHasChildren,
    ProviderInUse,
    ProviderNotFound,
    ResourceClassNotFound,
    TraitNotFound,
    is_custom,
    refuse_shrink_below_use,
)
from berthing.store.etcd.layout import Keys, inventories_from, inventories_to, provider_from
from berthing.store.etcd.stm import Attempt
from berthing.store.resources import NewParent

__all__ = [
    "create_provider",
    "delete_name",
    "delete_provider",
    "ensure_name",
    "index_users",
    "rename_class",
    "set_aggregates",
    "set_inventories",
    "set_traits",
    "update_provider",
]


# -- custom resource classes and traits -----------------------------------------------


def ensure_name(a: Attempt, key: bytes) -> bool:
    """Create the custom name at ``key`` if missing; True if this call created it."""
    doc = a.doc(key)
    if doc is not None:
        return doc.get("token") == a.token  # our own earlier attempt created it
    a.put(key, {"token": a.token})
    return True


def delete_name(a: Attempt, key: bytes, users: bytes, missing: Exception, in_use: InUse) -> None:
    """Delete a custom class or trait, only while nothing under ``users`` refers to it."""
    if a.doc(key) is None:
        if a.ambiguous:
            return  # our own earlier attempt deleted it
        raise missing
    if not a.empty(users):
        raise in_use
    a.delete(key)


# -- providers ---------------------------------------------------------------------------


def create_provider(
    a: Attempt, k: Keys, name: str, uuid: str, parent: str | None, shuffle: int
) -> Provider:
    key = k.provider(uuid)
    found = a.docs(key, k.name(name), *([k.provider(parent)] if parent else []))
    mine, named = found[0], found[1]
    if mine is not None and mine.get("token") == a.token:
        return provider_from(key, uuid, mine)
    for column, value, taken in (("uuid", uuid, mine), ("name", name, named)):
        if taken is not None:
            raise DuplicateName.provider(column, value)
    root = uuid
    if parent is not None:
        above = found[2]
        if above is None:
            raise InvalidInput(
                f"Parent provider {parent} does not exist.", hint="Create the parent first."
            )
        root = str(above["root"])
        a.put(k.child(parent, uuid), {})
    doc: dict[str, Any] = {
        "name": name,
        "parent": parent,
        "root": root,
        "generation": 0,
        "traits": [],
        "aggregates": [],
        "shuffle": shuffle,
        "token": a.token,
    }
    a.put(key, doc)
    a.put(k.name(name), {"uuid": uuid})
    return provider_from(key, uuid, doc)


def update_provider(
    a: Attempt, k: Keys, uuid: str, name: str | None, parent: NewParent | None
) -> Provider:
    """Rename and/or move a provider with its subtree. Every provider document of the
    subtree is read (so compared on commit: a child created under it meanwhile makes
    this lose and run again) and rewritten with its new root."""
    doc = a.doc(k.provider(uuid))
    if doc is None:
        raise ProviderNotFound(uuid)
    if doc.get("token") == a.token:
        return provider_from(k.provider(uuid), uuid, doc)  # our earlier attempt landed
    new = {**doc, "token": a.token}
    if name is not None and name != doc["name"]:
        _rename(a, k, uuid, doc, name)
        new["name"] = name
    if parent is not None:
        _move(a, k, uuid, doc, new, parent.uuid)
    a.put(k.provider(uuid), new)
    return provider_from(k.provider(uuid), uuid, new)


def _rename(a: Attempt, k: Keys, uuid: str, doc: Mapping[str, Any], name: str) -> None:
    if a.doc(k.name(name)) is not None:
        raise DuplicateName.rename(name)
    a.delete(k.name(str(doc["name"])))
    a.put(k.name(name), {"uuid": uuid})


def _move(
    a: Attempt, k: Keys, uuid: str, doc: Mapping[str, Any], new: dict[str, Any], to: str | None
) -> None:
    subtree = _subtree(a, k, uuid)
    root = uuid
    if to is not None:
        above = a.doc(k.provider(to))
        if above is None:
            raise InvalidInput(f"Parent provider {to} does not exist.", hint="Create it first.")
        if to in subtree:
            raise InvalidInput(
                f"Provider {uuid} cannot move under {to}, which is in its own subtree.",
                hint="Move the descendant out first, or choose another parent.",
            )
        root = str(above["root"])
        a.put(k.child(to, uuid), {})
    if doc["parent"] is not None:
        a.delete(k.child(str(doc["parent"]), uuid))
    new.update(parent=to, root=root)
    for below in subtree - {uuid}:
        below_doc = a.doc(k.provider(below))
        if below_doc is not None:
            a.put(k.provider(below), {**below_doc, "root": root, "token": a.token})


def _subtree(a: Attempt, k: Keys, uuid: str) -> set[str]:
    """``uuid`` and every provider below it, by the children index."""
    found, todo = {uuid}, [uuid]
    while todo:
        start = k.children(todo.pop())
        for kv in a.scan(start, guard=True):
            child = unquote(kv.key[len(start) :].decode())
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def delete_provider(a: Attempt, k: Keys, uuid: str) -> None:
    doc, inventories = a.docs(k.provider(uuid), k.inventory(uuid))
    if doc is None:
        if a.ambiguous:
            return  # our own earlier attempt deleted it
        raise ProviderNotFound(uuid)
    if not a.empty(k.children(uuid)):
        raise ProviderHasChildren(uuid)
    if not a.empty(k.allocations(uuid)):
        raise ProviderInUse(uuid)
    for key in (k.provider(uuid), k.inventory(uuid), k.usage(uuid), k.name(str(doc["name"]))):
        a.delete(key)
    if doc["parent"] is not None:
        a.delete(k.child(str(doc["parent"]), uuid))
    for rc in filter(is_custom, inventories or {}):
        a.delete(k.class_user(rc, uuid))
    for trait in filter(is_custom, doc["traits"]):
        a.delete(k.trait_user(trait, uuid))


def set_inventories(
    a: Attempt,
    k: Keys,
    uuid: str,
    generation: int,
    inventories: Mapping[str, Inventory],
    below_use: bool = False,
) -> Provider:
    doc, old_doc, used_doc = a.docs(k.provider(uuid), k.inventory(uuid), k.usage(uuid))
    done = _unchanged_or_mine(a, k, uuid, doc, generation)
    if done is not None:
        return done
    assert doc is not None
    custom = [rc for rc in inventories if is_custom(rc)]
    _require(a, {k.resource_class(rc): ResourceClassNotFound(rc) for rc in custom})
    refuse_shrink_below_use(uuid, used_doc or {}, inventories, below_use)
    old = inventories_from(k.inventory(uuid), old_doc)
    a.put(k.inventory(uuid), inventories_to(inventories))
    index_users(
        a,
        old=[k.class_user(rc, uuid) for rc in old if is_custom(rc)],
        new=[k.class_user(rc, uuid) for rc in inventories if is_custom(rc)],
    )
    return _bump(a, k, uuid, doc)


def set_traits(a: Attempt, k: Keys, uuid: str, generation: int, traits: list[str]) -> Provider:
    doc = a.doc(k.provider(uuid))
    done = _unchanged_or_mine(a, k, uuid, doc, generation)
    if done is not None:
        return done
    assert doc is not None
    _require(a, {k.trait(t): TraitNotFound(t) for t in traits if is_custom(t)})
    index_users(
        a,
        old=[k.trait_user(t, uuid) for t in doc["traits"] if is_custom(t)],
        new=[k.trait_user(t, uuid) for t in traits if is_custom(t)],
    )
    return _bump(a, k, uuid, doc, traits=traits)


def set_aggregates(
    a: Attempt, k: Keys, uuid: str, generation: int, aggregates: list[str], bump: bool = True
) -> Provider:
    doc = a.doc(k.provider(uuid))
    done = _unchanged_or_mine(a, k, uuid, doc, generation)
    if done is not None:
        return done
    assert doc is not None
    if bump:
        return _bump(a, k, uuid, doc, aggregates=aggregates)
    new = {**doc, "aggregates": aggregates, "token": a.token}
    a.put(k.provider(uuid), new)
    return provider_from(k.provider(uuid), uuid, new)


def rename_class(a: Attempt, k: Keys, old: str, new: str) -> None:
    """Only an unused class: its name is in every inventory, usage and allocation
    document that uses it, and those are not rewritten."""
    mine, taken = a.docs(k.resource_class(old), k.resource_class(new))
    if mine is None:
        if a.ambiguous and taken is not None and taken.get("token") == a.token:
            return  # our own earlier attempt renamed it
        raise ResourceClassNotFound(old)
    if taken is not None:
        raise DuplicateName(f"Resource class {new} exists already.", hint="Pick another name.")
    if not a.empty(k.class_users(old)):
        raise InUse(f"{old} is used by inventories.", hint="Only an unused class can be renamed.")
    a.delete(k.resource_class(old))
    a.put(k.resource_class(new), {"token": a.token})


# -- helpers ----------------------------------------------------------------------------


def _unchanged_or_mine(
    a: Attempt, k: Keys, uuid: str, doc: dict[str, Any] | None, generation: int
) -> Provider | None:
    """None if the provider is still at ``generation``; the provider if this operation's
    own earlier attempt already changed it; otherwise the contract's error."""
    if doc is None:
        raise ProviderNotFound(uuid)
    if doc.get("token") == a.token:
        return provider_from(k.provider(uuid), uuid, doc)
    if doc["generation"] != generation:
        raise GenerationConflict("Resource provider", uuid, generation, int(doc["generation"]))
    return None


def bump_doc(a: Attempt, doc: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
    """The provider document one generation on, marked as written by this operation."""
    return {**doc, **changes, "generation": int(doc["generation"]) + 1, "token": a.token}


def _bump(a: Attempt, k: Keys, uuid: str, doc: Mapping[str, Any], **changes: Any) -> Provider:
    new = bump_doc(a, doc, **changes)
    a.put(k.provider(uuid), new)
    return provider_from(k.provider(uuid), uuid, new)


def _require(a: Attempt, wanted: Mapping[bytes, Exception]) -> None:
    """Each key must exist (it is then compared on commit, so it cannot vanish); the
    first missing one in name order raises its error."""
    keys = sorted(wanted)
    for key, doc in zip(keys, a.docs(*keys), strict=True):
        if doc is None:
            raise wanted[key]


def index_users(a: Attempt, old: Iterable[bytes], new: Iterable[bytes]) -> None:
    keep = set(new)
    for key in set(old) - keep:
        a.delete(key)
    for key in keep:
        a.put(key, {})
