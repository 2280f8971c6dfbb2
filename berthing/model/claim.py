"""Claims: atomic, conditional writes of allocations, and what comes back from one.

A claim either lands whole or comes back as a typed conflict saying why not. A
conflict is a value, not an exception, because losing a race is ordinary for a
scheduler: it moves to the next candidate without unwinding a stack or parsing text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from berthing.model.consumer import Allocations, Consumer
from berthing.model.inventory import Inventory

__all__ = [
    "AllocationChange",
    "ClaimConflict",
    "ClaimResult",
    "Claimed",
    "ConflictKind",
    "ConsumerAllocations",
    "consumer_conflict",
]


class ConflictKind(StrEnum):
    CAPACITY = "capacity"
    """The amount no longer fits: someone else claimed it first."""
    NO_INVENTORY = "no_inventory"
    """The provider has no inventory of that class (any more)."""
    PROVIDER_GONE = "provider_gone"
    """The provider was deleted."""
    PROVIDER_GENERATION = "provider_generation"
    """The caller gave a provider generation and the provider has moved on."""
    CONSUMER_GENERATION = "consumer_generation"
    """The consumer changed (or exists, or vanished) since the caller read it."""


@dataclass(frozen=True, slots=True)
class ConsumerAllocations:
    """Set one consumer's allocations to exactly ``allocations``; an empty mapping
    removes them (and forgets the consumer). With ``check_generation`` the consumer
    must be at ``consumer.generation`` (None: must not exist yet); without it, as in
    Placement before microversion 1.28, whatever it holds is replaced."""

    consumer: Consumer
    allocations: Allocations
    check_generation: bool = True


@dataclass(frozen=True, slots=True)
class AllocationChange:
    """One atomic write: all of it lands, or none of it.

    ``provider_generations``: providers that must still be at these generations.
    ``inventories``: providers whose inventories are replaced in the same write (the
    reshaper moves allocations between providers while it changes inventories).
    """

    consumers: tuple[ConsumerAllocations, ...]
    provider_generations: Mapping[str, int] = field(default_factory=dict)
    inventories: Mapping[str, Mapping[str, Inventory]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Claimed:
    """Every consumer of the change at its new generation (None: removed), in order."""

    consumers: tuple[Consumer, ...]

    @property
    def consumer(self) -> Consumer:
        return self.consumers[0]

    @property
    def ok(self) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class ClaimConflict:
    kind: ConflictKind
    provider_uuid: str | None = None
    resource_class: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return False


ClaimResult = Claimed | ClaimConflict


def consumer_conflict(consumer: Consumer, actual: int | None) -> ClaimConflict | None:
    """The conflict, if the stored generation ``actual`` (None: no such consumer) is not
    the one the caller expects in ``consumer.generation``."""
    if consumer.generation == actual:
        return None
    detail = (
        f"consumer {consumer.uuid} exists already at generation {actual}"
        if consumer.generation is None
        else f"consumer {consumer.uuid} is at generation {actual}, not {consumer.generation}"
    )
    return ClaimConflict(ConflictKind.CONSUMER_GENERATION, detail=detail)
