"""Inventory of one resource class on one provider, and the capacity arithmetic.

Capacity follows Placement: ``(total - reserved) * allocation_ratio``, floored to an
integer because amounts are integers. Usage may never exceed capacity; an amount
must lie in ``[min_unit, max_unit]`` and be a multiple of ``step_size``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from berthing.model.errors import InUse, InvalidInput
from berthing.model.names import validate_resource_class

__all__ = ["MAX_AMOUNT", "Inventory", "refuse_shrink_below_use", "validate_amount"]

# Placement's upper bound for integer fields (a signed 32-bit int).
MAX_AMOUNT = 2**31 - 1


def validate_amount(rc: str, amount: object, where: str = "") -> int:
    """Check one requested or allocated amount of class ``rc`` (``where``: " on <uuid>")."""
    validate_resource_class(rc)
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidInput(f"Amount of {rc}{where} must be an integer, got {amount!r}.")
    if not 1 <= amount <= MAX_AMOUNT:
        raise InvalidInput(
            f"Amount of {rc}{where} must be a positive integer between 1 and {MAX_AMOUNT}, "
            f"got {amount}.",
            hint="Leave the class out instead of asking for 0.",
        )
    return amount


def _check_int(field: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"Inventory {field} must be an integer, got {value!r}.")
    # jsonschema's words, which Placement reports for the same mistake.
    if value < minimum:
        raise InvalidInput(f"{value} is less than the minimum of {minimum} (inventory {field}).")
    if value > MAX_AMOUNT:
        raise InvalidInput(
            f"{value} is greater than the maximum of {MAX_AMOUNT} (inventory {field})."
        )


@dataclass(frozen=True, slots=True)
class Inventory:
    total: int
    reserved: int = 0
    min_unit: int = 1
    max_unit: int = MAX_AMOUNT
    step_size: int = 1
    allocation_ratio: float = 1.0

    def __post_init__(self) -> None:
        _check_int("total", self.total, 1)
        _check_int("reserved", self.reserved, 0)
        _check_int("min_unit", self.min_unit, 1)
        _check_int("max_unit", self.max_unit, 1)
        _check_int("step_size", self.step_size, 1)
        ratio = self.allocation_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, int | float):
            raise InvalidInput(f"allocation_ratio must be a number, got {ratio!r}.")
        if not (math.isfinite(ratio) and ratio > 0):
            raise InvalidInput(f"allocation_ratio must be a positive number, got {ratio}.")
        if self.reserved > self.total:
            raise InvalidInput(
                f"reserved ({self.reserved}) exceeds total ({self.total}).",
                hint="Lower reserved or raise total.",
            )
        if self.min_unit > self.max_unit:
            raise InvalidInput(f"min_unit ({self.min_unit}) exceeds max_unit ({self.max_unit}).")

    @property
    def capacity(self) -> int:
        """How much may be allocated in all, overcommit included."""
        return int((self.total - self.reserved) * self.allocation_ratio)

    def amount_problem(self, amount: int) -> str | None:
        """Why ``amount`` cannot be allocated from this inventory in one piece, or None."""
        if amount < self.min_unit:
            return f"amount {amount} is below min_unit {self.min_unit}"
        if amount > self.max_unit:
            return f"amount {amount} is above max_unit {self.max_unit}"
        if amount % self.step_size:
            return f"amount {amount} is not a multiple of step_size {self.step_size}"
        return None

    def fits(self, used: int, amount: int) -> bool:
        return self.amount_problem(amount) is None and used + amount <= self.capacity


def refuse_shrink_below_use(
    uuid: str,
    used: Mapping[str, int],
    inventories: Mapping[str, Inventory],
    below_use: bool = False,
) -> None:
    """Raise ``InUse`` if replacing a provider's inventories with ``inventories`` would
    remove a class that has allocations or (unless ``below_use``) drop its capacity
    below what is allocated."""
    for rc, amount in sorted(used.items()):
        if amount == 0:
            continue
        if rc not in inventories:
            raise InUse(
                f"Cannot remove {rc} inventory from {uuid}: {amount} is allocated.",
                hint="Release those allocations first.",
            )
        if inventories[rc].capacity < amount and not below_use:
            raise InUse(
                f"{rc} capacity on {uuid} would drop to {inventories[rc].capacity}, "
                f"below the {amount} already allocated.",
                hint="Release allocations first, or keep capacity at or above usage.",
            )
