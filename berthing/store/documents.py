"""An inventory as a JSON-ready document: how the document engines (etcd, Cassandra)
store one, and how the Placement API shows one (the same fields, Placement's names)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from berthing.model import Inventory

__all__ = ["inventories_to", "inventory_doc"]


def inventory_doc(i: Inventory) -> dict[str, Any]:
    return {
        "total": i.total,
        "reserved": i.reserved,
        "min_unit": i.min_unit,
        "max_unit": i.max_unit,
        "step_size": i.step_size,
        "allocation_ratio": float(i.allocation_ratio),
    }


def inventories_to(inventories: Mapping[str, Inventory]) -> dict[str, Any]:
    return {rc: inventory_doc(i) for rc, i in inventories.items()}
