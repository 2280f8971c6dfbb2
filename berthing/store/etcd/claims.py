"""Claims and releases as single etcd transactions (through ``stm.Transactor``).

A claim reads the consumer and, for every provider it touches (the new allocations
and the ones it replaces), the provider, inventory and usage keys, all at one
revision. It decides on that snapshot, exactly like the SQLite store, and stages:
the new usages, each touched provider one generation on, the allocation keys, the
consumer document and its project index entry. The commit compares the
``mod_revision`` of every key read, so it lands only on the snapshot it was decided
on; a lost race returns a typed ``ClaimConflict`` from the re-run on fresh data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from berthing.model import (
    ClaimConflict,
    Claimed,
    ClaimResult,
    ConflictKind,
    Consumer,
    ConsumerNotFound,
    GenerationConflict,
    InvalidInput,
    ResourceClassNotFound,
    consumer_conflict,
    is_custom,
)
from berthing.store.etcd.layout import Keys, inventories_from, usages_from
from berthing.store.etcd.providers import bump_doc
from berthing.store.etcd.stm import Attempt

__all__ = ["claim", "release"]

Allocs = Mapping[str, Mapping[str, int]]


def claim(
    a: Attempt, k: Keys, consumer: Consumer, allocs: Allocs, expected: Mapping[str, int]
) -> ClaimResult:
    # One round trip for the consumer and the providers it asks for.
    a.get(k.consumer(consumer.uuid), *[key for p in sorted(allocs) for key in _keys(k, p)])
    held = a.doc(k.consumer(consumer.uuid))
    if held is not None and held.get("token") == a.token:
        return Claimed(_consumer(consumer.uuid, held))  # our earlier attempt landed
    lost = consumer_conflict(consumer, _generation(held)) or _provider_conflict(
        a, k, allocs, expected
    )
    if lost is not None:
        return lost
    custom = sorted({rc for per in allocs.values() for rc in per if is_custom(rc)})
    for rc, doc in zip(custom, a.docs(*[k.resource_class(rc) for rc in custom]), strict=True):
        if doc is None:
            raise ResourceClassNotFound(rc)
    old: dict[str, dict[str, int]] = held["allocations"] if held is not None else {}
    used = _used_without(a, k, old, sorted(set(allocs) | set(old)))
    lost = _take(a, k, allocs, used)
    if lost is not None:
        return lost
    return Claimed(_write(a, k, consumer, held, allocs, used))


def release(a: Attempt, k: Keys, uuid: str, generation: int | None) -> None:
    held = a.doc(k.consumer(uuid))
    if held is None:
        if a.ambiguous:
            return  # our own earlier attempt released it
        raise ConsumerNotFound(uuid)
    if generation is not None and generation != held["generation"]:
        raise GenerationConflict("Consumer", uuid, generation, int(held["generation"]))
    old: dict[str, dict[str, int]] = held["allocations"]
    used = _used_without(a, k, old, sorted(old))
    for p in sorted(old):
        _stage_provider(a, k, p, used[p])
        a.delete(k.allocation(p, uuid))
    a.delete(k.consumer(uuid))
    a.delete(k.project_use(str(held["project"]), str(held["user"]), uuid))


# -- deciding ---------------------------------------------------------------------------


def _keys(k: Keys, provider: str) -> tuple[bytes, bytes, bytes]:
    return k.provider(provider), k.inventory(provider), k.usage(provider)


def _generation(held: Mapping[str, Any] | None) -> int | None:
    return None if held is None else int(held["generation"])


def _provider_conflict(
    a: Attempt, k: Keys, allocs: Allocs, expected: Mapping[str, int]
) -> ClaimConflict | None:
    for p in sorted(allocs):
        doc = a.doc(k.provider(p))
        if doc is None:
            return ClaimConflict(ConflictKind.PROVIDER_GONE, p, detail="no such provider")
        want = expected.get(p)
        if want is not None and want != doc["generation"]:
            return ClaimConflict(
                ConflictKind.PROVIDER_GENERATION,
                p,
                detail=f"generation is {doc['generation']}, not {want}",
            )
    return None


def _used_without(
    a: Attempt, k: Keys, old: Mapping[str, Mapping[str, int]], providers: list[str]
) -> dict[str, Counter[str]]:
    """Usage per provider as if the consumer's current allocations were already freed."""
    used: dict[str, Counter[str]] = {}
    for p in providers:
        _, _, usage = a.docs(*_keys(k, p))
        used[p] = Counter(usages_from(k.usage(p), usage))
        used[p].subtract(old.get(p, {}))
    return used


def _take(
    a: Attempt, k: Keys, allocs: Allocs, used: dict[str, Counter[str]]
) -> ClaimConflict | None:
    """Add each amount to its provider's usage, or say why it does not fit."""
    for p, per in allocs.items():
        inventories = inventories_from(k.inventory(p), a.doc(k.inventory(p)))
        for rc, amount in per.items():
            inv = inventories.get(rc)
            if inv is None:
                return ClaimConflict(ConflictKind.NO_INVENTORY, p, rc, f"no {rc} inventory")
            problem = inv.amount_problem(amount)
            if problem:
                raise InvalidInput(f"Cannot allocate {rc} on {p}: {problem}.")
            if used[p][rc] + amount > inv.capacity:
                return ClaimConflict(ConflictKind.CAPACITY, p, rc, f"{amount} {rc} no longer fits")
            used[p][rc] += amount
    return None


# -- writing ----------------------------------------------------------------------------


def _write(
    a: Attempt,
    k: Keys,
    consumer: Consumer,
    held: Mapping[str, Any] | None,
    allocs: Allocs,
    used: dict[str, Counter[str]],
) -> Consumer:
    for p in sorted(used):
        _stage_provider(a, k, p, used[p])
    old = held["allocations"] if held is not None else {}
    for p in sorted(set(old) - set(allocs)):
        a.delete(k.allocation(p, consumer.uuid))
    for p, per in allocs.items():
        a.put(k.allocation(p, consumer.uuid), dict(per))
    generation = 0 if held is None else int(held["generation"]) + 1
    a.put(
        k.consumer(consumer.uuid),
        {
            "project": consumer.project_id,
            "user": consumer.user_id,
            "generation": generation,
            "allocations": {p: dict(per) for p, per in allocs.items()},
            "token": a.token,
        },
    )
    _stage_project_use(a, k, consumer, held, allocs)
    return Consumer(consumer.uuid, consumer.project_id, consumer.user_id, generation)


def _stage_provider(a: Attempt, k: Keys, p: str, used: Counter[str]) -> None:
    """New usage for ``p`` and its generation one on (the contract: every change to a
    provider's allocations bumps it)."""
    a.put(k.usage(p), {rc: n for rc, n in sorted(used.items()) if n})
    doc = a.doc(k.provider(p))
    if doc is not None:
        a.put(k.provider(p), bump_doc(a, doc))


def _stage_project_use(
    a: Attempt, k: Keys, consumer: Consumer, held: Mapping[str, Any] | None, allocs: Allocs
) -> None:
    totals: Counter[str] = Counter()
    for per in allocs.values():
        totals.update(per)
    key = k.project_use(consumer.project_id, consumer.user_id, consumer.uuid)
    if held is not None:
        old = k.project_use(str(held["project"]), str(held["user"]), consumer.uuid)
        if old != key:
            a.delete(old)  # a resize may move the consumer to another project or user
    a.put(key, dict(totals))


def _consumer(uuid: str, doc: Mapping[str, Any]) -> Consumer:
    return Consumer(uuid, str(doc["project"]), str(doc["user"]), int(doc["generation"]))
