"""Allocation writes: every route that changes allocations (PUT and POST /allocations,
the reshaper) builds one ``AllocationChange`` and lands it with ``Store.commit``, which
is atomic on every backend; a conflict comes back as a value and is answered here, in
Placement's terms (``errors.claim_conflict``).

Everything ``commit`` could refuse as bad input is checked before it is called, so
that what it still raises is only what the store decides on its snapshot.
"""

from __future__ import annotations

from berthing.api.errors import ApiError, claim_conflict
from berthing.api.placement.bodies import ConsumerBody, check_consumer, provider_allocations
from berthing.api.placement.microversion import Version
from berthing.model import (
    AllocationChange,
    ClaimConflict,
    Claimed,
    Consumer,
    ConsumerAllocations,
    ConsumerNotFound,
    InvalidInput,
    ResourceClassNotFound,
    is_custom,
    validate_uuid,
)
from berthing.store import Store

__all__ = ["body_uuid", "commit", "consumer_part", "kept_type", "with_type"]


def body_uuid(value: str, what: str = "consumer uuid") -> str:
    """The canonical uuid, or 400 naming the bad value."""
    try:
        return validate_uuid(value, what)
    except InvalidInput as exc:
        raise ApiError(400, exc.message) from exc


def kept_type(store: Store, part: ConsumerAllocations, version: Version) -> str | None:
    """The consumer type to write: the one asked for (1.38+); before 1.38 a request
    names none and an existing consumer keeps its own, as in Placement. (The read is
    covered by the consumer generation check from 1.28; before that, a type written
    concurrently at 1.38 can be lost, as Placement's own read-then-write can lose it.)"""
    c = part.consumer
    if version.at_least("1.38") or (part.check_generation and c.generation is None):
        return c.consumer_type  # asked for, or a new consumer: nothing to keep
    try:
        return store.get_allocations(c.uuid)[0].consumer_type
    except ConsumerNotFound:
        return None


def consumer_part(
    store: Store, key: str, body: ConsumerBody, version: Version, *, may_empty: bool, where: str
) -> ConsumerAllocations:
    """One consumer's part of a change, from the dict form of its allocations."""
    uuid = body_uuid(key)
    check_consumer(body, version, where, may_empty=may_empty)
    allocations = provider_allocations(body, where)
    wanted = body.consumer_type if isinstance(body.consumer_type, str) else None
    generation = body.consumer_generation if isinstance(body.consumer_generation, int) else None
    consumer = Consumer(uuid, body.project_id, body.user_id, generation, wanted)
    part = ConsumerAllocations(consumer, allocations, check_generation=version.at_least("1.28"))
    return with_type(store, part, version)


def with_type(store: Store, part: ConsumerAllocations, version: Version) -> ConsumerAllocations:
    c = part.consumer
    kept = kept_type(store, part, version)
    if kept == c.consumer_type:
        return part
    consumer = Consumer(c.uuid, c.project_id, c.user_id, c.generation, kept)
    return ConsumerAllocations(consumer, part.allocations, part.check_generation)


def commit(store: Store, change: AllocationChange) -> Claimed:
    """Land ``change`` whole, or raise the ``ApiError`` Placement answers with."""
    _require_classes(store, change)
    _refuse_repeats(change)
    try:
        result = store.commit(change)
    except ResourceClassNotFound as exc:  # deleted since _require_classes looked
        raise ApiError(400, exc.message) from exc
    except InvalidInput as exc:
        # Everything else commit validates was validated above: what is left is the
        # decision refusing an amount against an inventory's min_unit, max_unit or
        # step_size (raised, since no retry fixes it), which Placement answers with 409.
        raise ApiError(409, f"Unable to allocate inventory: {exc.message}") from exc
    if isinstance(result, ClaimConflict):
        raise claim_conflict(result, change)
    return result


def _require_classes(store: Store, change: AllocationChange) -> None:
    """An unknown class is bad input (400) in Placement, not a provider without that
    inventory (409): standard classes always exist, custom ones are looked up."""
    named = {rc for ca in change.consumers for per in ca.allocations.values() for rc in per}
    named |= {rc for invs in change.inventories.values() for rc in invs}
    custom = {rc for rc in named if is_custom(rc)}
    missing = sorted(custom - set(store.list_resource_classes())) if custom else []
    if missing:
        raise ApiError(400, f"No such resource class: {', '.join(missing)}.")


def _refuse_repeats(change: AllocationChange) -> None:
    seen: set[str] = set()
    for ca in change.consumers:
        if ca.consumer.uuid in seen:
            raise ApiError(400, f"Consumer {ca.consumer.uuid} appears twice.")
        seen.add(ca.consumer.uuid)
