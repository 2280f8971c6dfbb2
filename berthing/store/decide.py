"""The claim decision, once, as a pure function every backend calls.

A backend reads a snapshot (the consumers of a change, what they hold, and every
provider involved), asks ``decide`` what the write must be, and then writes it with
its engine's own compare-and-set: SQLite inside one ``BEGIN IMMEDIATE`` transaction,
etcd in one transaction comparing every key it read, Cassandra with lightweight
transactions. So the rules (consumer generations, provider generations, missing
inventory, unit rules, capacity) cannot drift apart between backends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from berthing.model import (
    AllocationChange,
    ClaimConflict,
    ConflictKind,
    Consumer,
    InvalidInput,
    Inventory,
    consumer_conflict,
)

__all__ = ["Decision", "Held", "Snapshot", "decide", "providers_involved"]


@dataclass(frozen=True, slots=True)
class Held:
    """What the store holds for one consumer."""

    consumer: Consumer
    allocations: Mapping[str, Mapping[str, int]]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One provider as the backend read it, inside the write's transaction or read set."""

    generation: int
    inventories: Mapping[str, Inventory]
    used: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Decision:
    """What to write. ``used`` and ``touched`` cover every provider whose allocations
    or inventories change (each gets its generation bumped once); ``consumers`` are the
    change's consumers at their new generations (None: removed)."""

    used: dict[str, dict[str, int]]
    inventories: Mapping[str, Mapping[str, Inventory]]
    consumers: tuple[Consumer, ...]
    touched: frozenset[str]


def providers_involved(change: AllocationChange, held: Mapping[str, Held | None]) -> set[str]:
    """Every provider a backend must read to decide ``change``."""
    return _touched(change, held) | set(change.provider_generations)


def decide(
    change: AllocationChange,
    held: Mapping[str, Held | None],
    providers: Mapping[str, Snapshot | None],
) -> Decision | ClaimConflict:
    """The write ``change`` amounts to on this snapshot, or the conflict that stops it.

    Amounts that break an inventory's unit rules raise ``InvalidInput``: no retry can
    fix them.
    """
    lost = _generation_conflict(change, held, providers)
    if lost is not None:
        return lost
    inventories = {p: dict(s.inventories) for p, s in providers.items() if s is not None}
    inventories.update({p: dict(invs) for p, invs in change.inventories.items()})
    used = _used_after_freeing(change, held, providers)
    grown: set[tuple[str, str]] = {(p, rc) for p in change.inventories for rc in used.get(p, {})}
    for ca in change.consumers:
        for p, per in ca.allocations.items():
            lost = _check_units(p, per, inventories[p])
            if lost is not None:
                return lost
            _add(used.setdefault(p, {}), per, 1)
            grown.update((p, rc) for rc in per)
    lost = _capacity_conflict(grown, used, inventories)
    if lost is not None:
        return lost
    touched = _touched(change, held)
    consumers = tuple(_next_consumer(ca.consumer, ca.allocations, held) for ca in change.consumers)
    return Decision(
        {p: used.get(p, {}) for p in touched}, change.inventories, consumers, frozenset(touched)
    )


def _used_after_freeing(
    change: AllocationChange,
    held: Mapping[str, Held | None],
    providers: Mapping[str, Snapshot | None],
) -> dict[str, dict[str, int]]:
    """Usage per provider as if the change's consumers held nothing any more."""
    used = {p: dict(s.used) for p, s in providers.items() if s is not None}
    for ca in change.consumers:
        h = held.get(ca.consumer.uuid)
        for p, per in (h.allocations if h is not None else {}).items():
            _add(used.setdefault(p, {}), per, -1)
    return used


def _generation_conflict(
    change: AllocationChange,
    held: Mapping[str, Held | None],
    providers: Mapping[str, Snapshot | None],
) -> ClaimConflict | None:
    for ca in change.consumers:
        h = held.get(ca.consumer.uuid)
        if ca.check_generation:
            lost = consumer_conflict(ca.consumer, None if h is None else h.consumer.generation)
            if lost is not None:
                return lost
    wanted = {p for ca in change.consumers for p in ca.allocations} | set(change.inventories)
    for p in sorted(wanted | set(change.provider_generations)):
        snap = providers.get(p)
        if snap is None:
            return ClaimConflict(ConflictKind.PROVIDER_GONE, p, detail="no such provider")
        want = change.provider_generations.get(p)
        if want is not None and want != snap.generation:
            detail = f"generation is {snap.generation}, not {want}"
            return ClaimConflict(ConflictKind.PROVIDER_GENERATION, p, detail=detail)
    return None


def _check_units(
    p: str, per: Mapping[str, int], inventories: Mapping[str, Inventory]
) -> ClaimConflict | None:
    for rc, amount in per.items():
        inv = inventories.get(rc)
        if inv is None:
            return ClaimConflict(ConflictKind.NO_INVENTORY, p, rc, f"no {rc} inventory")
        problem = inv.amount_problem(amount)
        if problem:
            raise InvalidInput(f"Cannot allocate {rc} on {p}: {problem}.")
    return None


def _capacity_conflict(
    grown: Iterable[tuple[str, str]],
    used: Mapping[str, Mapping[str, int]],
    inventories: Mapping[str, Mapping[str, Inventory]],
) -> ClaimConflict | None:
    """Only classes this change adds to (or re-inventories) are checked: a class that
    was over capacity before, and that the change only shrinks, does not block it."""
    for p, rc in sorted(grown):
        n = used[p].get(rc, 0)
        inv = inventories.get(p, {}).get(rc)
        if n and inv is None:
            return ClaimConflict(ConflictKind.NO_INVENTORY, p, rc, f"{n} {rc} used, no inventory")
        if inv is not None and n > inv.capacity:
            return ClaimConflict(
                ConflictKind.CAPACITY, p, rc, f"{rc} would need {n} of {inv.capacity}"
            )
    return None


def _add(into: dict[str, int], per: Mapping[str, int], sign: int) -> None:
    for rc, n in per.items():
        into[rc] = into.get(rc, 0) + sign * n


def _touched(change: AllocationChange, held: Mapping[str, Held | None]) -> set[str]:
    """Providers whose allocations or inventories the change rewrites."""
    touched = set(change.inventories)
    for ca in change.consumers:
        touched.update(ca.allocations)
        h = held.get(ca.consumer.uuid)
        if h is not None:
            touched.update(h.allocations)
    return touched


def _next_consumer(
    consumer: Consumer, allocations: Mapping[str, object], held: Mapping[str, Held | None]
) -> Consumer:
    h = held.get(consumer.uuid)
    if not allocations:
        generation = None
    elif h is None or h.consumer.generation is None:
        generation = 1  # as Placement: created at 0, and this write is its first change
    else:
        generation = h.consumer.generation + 1
    return Consumer(
        consumer.uuid, consumer.project_id, consumer.user_id, generation, consumer.consumer_type
    )
