"""Reads: provider states, the confirmed candidate search, allocations and usage.

Each function runs inside one ``Attempt``, so everything it reads comes from one
revision: the "one snapshot" the contract promises.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import unquote

from berthing.model import (
    ProviderNotFound,
    ProviderQuery,
    ProviderState,
    ResourceClassNotFound,
    TraitNotFound,
    TypeUsage,
    is_custom,
)
from berthing.store.etcd.catalogue import Catalogue
from berthing.store.etcd.layout import (
    Keys,
    decode,
    inventories_from,
    provider_from,
    usages_from,
)
from berthing.store.etcd.ops import KeyValue
from berthing.store.etcd.stm import Attempt

__all__ = ["find", "provider_allocations", "states", "type_usages"]

#: Candidates confirmed per read when few are wanted: a dropped one costs no extra trip.
MIN_BATCH = 8


def states(a: Attempt, k: Keys, uuids: list[str]) -> list[ProviderState]:
    """The providers that exist among ``uuids``, with inventories and usages."""
    keys = [key for u in uuids for key in (k.provider(u), k.inventory(u), k.usage(u))]
    docs = a.docs(*keys)
    out = []
    for i, u in enumerate(uuids):
        doc, inv, used = docs[3 * i : 3 * i + 3]
        if doc is None:
            continue
        invs = inventories_from(k.inventory(u), inv)
        usage = usages_from(k.usage(u), used)
        provider = provider_from(k.provider(u), u, doc)
        out.append(ProviderState(provider, invs, {rc: usage.get(rc, 0) for rc in invs}))
    return out


def find(a: Attempt, k: Keys, catalogue: Catalogue, query: ProviderQuery) -> list[ProviderState]:
    """Providers that fit, in the catalogue's order. Unless the query asks for ``fresh``
    answers, they are the catalogue's: a claim checks what it decides on, so the
    scheduler's hot path pays no read here (docs/etcd.md: how stale, and what it costs)."""
    _check_names(a, k, catalogue, query)
    if not query.fresh:
        root = catalogue.root_of(query.in_tree) if query.in_tree is not None else None
        if query.in_tree is not None and root is None:
            raise ProviderNotFound(query.in_tree)
        return catalogue.states(catalogue.candidates(query, root, query.limit))
    root = None
    if query.in_tree is not None:
        doc = a.doc(k.provider(query.in_tree))
        if doc is None:
            raise ProviderNotFound(query.in_tree)
        root = str(doc["root"])
    wanted = query.limit
    # Room for the snapshot to reject a few stale candidates without a second walk.
    enough = None if wanted is None else 2 * wanted + MIN_BATCH
    order = catalogue.candidates(query, root, enough)
    found = _confirm(a, k, query, root, order, wanted)
    if wanted is not None and len(found) < wanted and len(order) == enough:
        # The catalogue was so stale that many were rejected: look at all the rest.
        seen = set(order)
        rest = [u for u in catalogue.candidates(query, root) if u not in seen]
        found += _confirm(a, k, query, root, rest, wanted - len(found))
    return found


def _confirm(
    a: Attempt,
    k: Keys,
    query: ProviderQuery,
    root: str | None,
    order: list[str],
    wanted: int | None,
) -> list[ProviderState]:
    """Re-read candidates on the snapshot, in order, until ``wanted`` still fit."""
    wanted = len(order) if wanted is None else wanted
    found: list[ProviderState] = []
    while order and len(found) < wanted:
        # A stale catalogue only costs another batch: the snapshot decides.
        size = max(wanted - len(found), MIN_BATCH)
        batch, order = order[:size], order[size:]
        found += [s for s in states(a, k, batch) if query.matches(s, root)]
    return found[:wanted]


def _check_names(a: Attempt, k: Keys, catalogue: Catalogue, query: ProviderQuery) -> None:
    """Unknown custom classes or traits raise, as in SQLite. A name the catalogue does
    not know may just be newer than it, so etcd has the last word."""
    for rc in sorted(query.resources):
        if is_custom(rc) and not catalogue.has_class(rc) and a.doc(k.resource_class(rc)) is None:
            raise ResourceClassNotFound(rc)
    for t in sorted(query.trait_names):
        if is_custom(t) and not catalogue.has_trait(t) and a.doc(k.trait(t)) is None:
            raise TraitNotFound(t)


def provider_allocations(a: Attempt, k: Keys, uuid: str) -> dict[str, dict[str, int]]:
    if a.doc(k.provider(uuid)) is None:
        raise ProviderNotFound(uuid)
    start = len(k.allocations(uuid))
    return {unquote(kv.key[start:].decode()): _amounts(kv) for kv in a.scan(k.allocations(uuid))}


def type_usages(kvs: Iterable[KeyValue]) -> list[TypeUsage]:
    """Consumers and amounts per consumer type, from project index documents.

    Index entries written before consumer types existed hold the amounts alone."""
    count: dict[str | None, int] = {}
    amounts: dict[str | None, dict[str, int]] = {}
    for kv in kvs:
        doc = decode(kv.key, kv.value)
        ctype, use = (doc.get("type"), doc["use"]) if "use" in doc else (None, doc)
        count[ctype] = count.get(ctype, 0) + 1
        per = amounts.setdefault(ctype, {})
        for rc, n in use.items():
            per[str(rc)] = per.get(str(rc), 0) + int(n)
    return [TypeUsage(t, count[t], amounts[t]) for t in sorted(count, key=str)]


def _amounts(kv: KeyValue) -> dict[str, int]:
    return {str(rc): int(n) for rc, n in decode(kv.key, kv.value).items()}
