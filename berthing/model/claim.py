"""The result of a claim: either it is written, or a typed conflict says why not.

A conflict is a value, not an exception, because losing a race is ordinary for a
scheduler: it moves to the next candidate without unwinding a stack or parsing text.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from berthing.model.consumer import Consumer

__all__ = ["ClaimConflict", "ClaimResult", "Claimed", "ConflictKind", "consumer_conflict"]


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
class Claimed:
    consumer: Consumer

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
