"""Claims and releases as single etcd transactions (through ``stm.Transactor``).

A commit reads the consumers and, for every provider involved (the new allocations,
the ones replaced, re-inventoried ones), the provider, inventory and usage keys, all at
one revision. ``store.decide`` decides on that snapshot, exactly as for every other
backend, and this module stages the decision: the new usages, each touched provider
one generation on, the allocation keys, the consumer documents and their project
index entries. The commit compares the ``mod_revision`` of every key read, so it lands
only on the snapshot it was decided on; a lost race comes back as a typed
``ClaimConflict`` from the re-run on fresh data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from berthing.model import (
    AllocationChange,
    Claimed,
    ClaimResult,
    Consumer,
    ConsumerAllocations,
    ConsumerNotFound,
    GenerationConflict,
    ResourceClassNotFound,
    is_custom,
)
from berthing.store.decide import Decision, Held, Snapshot, decide, providers_involved
from berthing.store.etcd.layout import Keys, inventories_from, inventories_to, usages_from
from berthing.store.etcd.providers import bump_doc, index_users
from berthing.store.etcd.stm import Attempt

__all__ = ["catalogue_keys", "commit", "consumer_from", "release"]


def commit(a: Attempt, k: Keys, change: AllocationChange) -> ClaimResult:
    uuids = [ca.consumer.uuid for ca in change.consumers]
    asked = sorted({p for ca in change.consumers for p in ca.allocations})
    # One round trip for the consumers and the providers they ask for.
    a.get(*[k.consumer(u) for u in uuids], *[key for p in asked for key in _keys(k, p)])
    docs = {u: a.doc(k.consumer(u)) for u in uuids}
    if _ours(a, k, change, docs):
        return _landed(change, docs)  # our own earlier attempt committed
    held = {
        u: None if d is None else Held(consumer_from(u, d), d["allocations"])
        for u, d in docs.items()
    }
    involved = sorted(providers_involved(change, held))
    a.get(*[key for p in involved for key in _keys(k, p)])
    _require_classes(a, k, change)
    decision = decide(change, held, {p: _snapshot(a, k, p) for p in involved})
    if not isinstance(decision, Decision):
        return decision
    _write(a, k, change, decision, docs)
    return Claimed(decision.consumers)


def catalogue_keys(k: Keys, change: AllocationChange) -> list[bytes]:
    """The catalogue's keys a commit of ``change`` reads first."""
    providers = {p for ca in change.consumers for p in ca.allocations}
    providers |= set(change.provider_generations) | set(change.inventories)
    classes = {rc for ca in change.consumers for per in ca.allocations.values() for rc in per}
    custom = sorted(filter(is_custom, classes))
    return [key for p in sorted(providers) for key in _keys(k, p)] + [
        k.resource_class(rc) for rc in custom
    ]


def release(a: Attempt, k: Keys, uuid: str, generation: int | None) -> None:
    held = a.doc(k.consumer(uuid))
    if held is None:
        if a.ambiguous:
            return  # our own earlier attempt released it
        raise ConsumerNotFound(uuid)
    if generation is not None and generation != held["generation"]:
        raise GenerationConflict("Consumer", uuid, generation, int(held["generation"]))
    consumer = consumer_from(uuid, held)
    change = AllocationChange((ConsumerAllocations(consumer, {}),))
    providers = sorted(held["allocations"])
    a.get(*[key for p in providers for key in _keys(k, p)])
    decision = decide(
        change,
        {uuid: Held(consumer, held["allocations"])},
        {p: _snapshot(a, k, p) for p in providers},
    )
    assert isinstance(decision, Decision), decision  # freeing can never conflict
    _write(a, k, change, decision, {uuid: held})


def consumer_from(uuid: str, doc: Mapping[str, Any]) -> Consumer:
    return Consumer(
        uuid, str(doc["project"]), str(doc["user"]), int(doc["generation"]), doc.get("type")
    )


# -- reading -----------------------------------------------------------------------------


def _keys(k: Keys, provider: str) -> tuple[bytes, bytes, bytes]:
    return k.provider(provider), k.inventory(provider), k.usage(provider)


def _snapshot(a: Attempt, k: Keys, p: str) -> Snapshot | None:
    doc, inventory, usage = a.docs(*_keys(k, p))
    if doc is None:
        return None
    return Snapshot(
        int(doc["generation"]),
        inventories_from(k.inventory(p), inventory),
        usages_from(k.usage(p), usage),
    )


def _require_classes(a: Attempt, k: Keys, change: AllocationChange) -> None:
    """Custom classes must exist; their keys are then compared on commit."""
    named = {rc for ca in change.consumers for per in ca.allocations.values() for rc in per}
    named |= {rc for invs in change.inventories.values() for rc in invs}
    custom = sorted(filter(is_custom, named))
    for rc, doc in zip(custom, a.docs(*[k.resource_class(rc) for rc in custom]), strict=True):
        if doc is None:
            raise ResourceClassNotFound(rc)


def _ours(
    a: Attempt, k: Keys, change: AllocationChange, docs: Mapping[str, dict[str, Any] | None]
) -> bool:
    """Whether this operation's earlier attempt landed: a document it wrote carries its
    token (a consumer's, or a re-inventoried provider's when no consumer changed)."""
    written = [*docs.values(), *a.docs(*[k.provider(p) for p in sorted(change.inventories)])]
    return any(d is not None and d.get("token") == a.token for d in written)


def _landed(change: AllocationChange, docs: Mapping[str, dict[str, Any] | None]) -> Claimed:
    return Claimed(
        tuple(
            consumer_from(ca.consumer.uuid, d)
            if (d := docs[ca.consumer.uuid]) is not None
            else Consumer(ca.consumer.uuid, ca.consumer.project_id, ca.consumer.user_id)
            for ca in change.consumers
        )
    )


# -- writing -----------------------------------------------------------------------------


def _write(
    a: Attempt,
    k: Keys,
    change: AllocationChange,
    decision: Decision,
    docs: Mapping[str, dict[str, Any] | None],
) -> None:
    for p in sorted(decision.touched):
        a.put(k.usage(p), {rc: n for rc, n in sorted(decision.used[p].items()) if n})
        doc = a.doc(k.provider(p))
        if doc is not None:
            a.put(k.provider(p), bump_doc(a, doc))
    for p, invs in decision.inventories.items():
        _stage_inventories(a, k, p, invs)
    for ca, new in zip(change.consumers, decision.consumers, strict=True):
        _stage_consumer(a, k, ca, new, docs[ca.consumer.uuid])


def _stage_inventories(a: Attempt, k: Keys, p: str, invs: Mapping[str, Any]) -> None:
    old = inventories_from(k.inventory(p), a.doc(k.inventory(p)))
    a.put(k.inventory(p), inventories_to(invs))
    index_users(
        a,
        old=[k.class_user(rc, p) for rc in old if is_custom(rc)],
        new=[k.class_user(rc, p) for rc in invs if is_custom(rc)],
    )


def _stage_consumer(
    a: Attempt, k: Keys, ca: ConsumerAllocations, new: Consumer, held: dict[str, Any] | None
) -> None:
    uuid = new.uuid
    old: Mapping[str, Any] = held["allocations"] if held is not None else {}
    for p in sorted(set(old) - set(ca.allocations)):
        a.delete(k.allocation(p, uuid))
    if held is not None:
        # Staged first: a put of the same key below replaces it in the transaction.
        a.delete(k.project_use(str(held["project"]), str(held["user"]), uuid))
    if new.generation is None:
        a.delete(k.consumer(uuid))
        return
    for p, per in ca.allocations.items():
        a.put(k.allocation(p, uuid), dict(per))
    a.put(
        k.consumer(uuid),
        {
            "project": new.project_id,
            "user": new.user_id,
            "type": new.consumer_type,
            "generation": new.generation,
            "allocations": {p: dict(per) for p, per in ca.allocations.items()},
            "token": a.token,
        },
    )
    totals: dict[str, int] = {}
    for per in ca.allocations.values():
        for rc, n in per.items():
            totals[rc] = totals.get(rc, 0) + n
    a.put(
        k.project_use(new.project_id, new.user_id, uuid), {"type": new.consumer_type, "use": totals}
    )
