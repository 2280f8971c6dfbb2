"""Consumers and their allocations: ``consumer -> {provider -> {class -> amount}}``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from berthing.model.errors import InvalidInput
from berthing.model.inventory import validate_amount
from berthing.model.provider import validate_uuid

__all__ = ["Allocations", "Consumer", "TypeUsage", "totals", "validate_allocations"]

Allocations = Mapping[str, Mapping[str, int]]
"""provider uuid -> resource class -> amount."""


@dataclass(frozen=True, slots=True)
class Consumer:
    """Whoever holds allocations: an instance, a volume, a port. ``generation`` is its
    compare-and-set token; None means the consumer does not exist yet.
    ``consumer_type`` is Placement's (1.38): INSTANCE, MIGRATION, or any upper-case
    name; None where the writer did not say."""

    uuid: str
    project_id: str
    user_id: str
    generation: int | None = None
    consumer_type: str | None = None


def validate_allocations(allocations: Allocations) -> dict[str, dict[str, int]]:
    """Check shape, names and amounts; return a plain normalized copy.

    Amount rules that need the inventory (min_unit, max_unit, step_size) are checked
    by the store inside the claim transaction, where the inventory is known.
    """
    out: dict[str, dict[str, int]] = {}
    for provider_uuid, resources in allocations.items():
        puuid = validate_uuid(provider_uuid, "provider uuid")
        if not resources:
            raise InvalidInput(f"Allocation for provider {puuid} names no resources.")
        per: dict[str, int] = {}
        for rc, amount in resources.items():
            per[rc] = validate_amount(rc, amount, f" on {puuid}")
        out[puuid] = per
    return out


@dataclass(frozen=True, slots=True)
class TypeUsage:
    """What a project's consumers of one type hold in all (Placement's GET /usages)."""

    consumer_type: str | None
    consumer_count: int
    resources: Mapping[str, int]


def totals(usages: Iterable[TypeUsage]) -> dict[str, int]:
    """Amounts per class over all consumer types."""
    out: dict[str, int] = {}
    for usage in usages:
        for rc, n in usage.resources.items():
            out[rc] = out.get(rc, 0) + n
    return out
