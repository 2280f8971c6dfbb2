"""What a host offers: its inventories, traits and aggregates.

``from_machine`` reads a real host (CPU count, memory, disk); simulated hosts are
built from shapes by ``berthing.sim``.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

from berthing.model import Inventory, ProviderState, is_custom

__all__ = ["HostDescription"]


@dataclass(frozen=True, slots=True)
class HostDescription:
    name: str
    inventories: Mapping[str, Inventory]
    traits: frozenset[str] = frozenset()
    aggregates: frozenset[str] = frozenset()
    custom_classes: frozenset[str] = field(default=frozenset())

    @classmethod
    def from_state(cls, state: ProviderState) -> HostDescription:
        """The host a provider in the store describes (simulated fleets re-adopt them)."""
        p = state.provider
        return cls(
            p.name,
            dict(state.inventories),
            p.traits,
            p.aggregates,
            frozenset(rc for rc in state.inventories if is_custom(rc)),
        )

    @classmethod
    def from_machine(
        cls, name: str | None = None, cpu_ratio: float = 4.0, disk_path: str = "/"
    ) -> HostDescription:
        """This machine, as Nova's libvirt driver would report it (default overcommit)."""
        cpus = os.cpu_count() or 1
        memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
        disk_gb = shutil.disk_usage(disk_path).total // 2**30
        inventories = {
            "VCPU": Inventory(cpus, allocation_ratio=cpu_ratio),
            # Keep 512 MB for the host itself, as Nova's reserved_host_memory_mb does.
            "MEMORY_MB": Inventory(memory_mb, reserved=min(512, memory_mb - 1)),
            "DISK_GB": Inventory(max(disk_gb, 1)),
        }
        return cls(name or socket.gethostname(), inventories)
