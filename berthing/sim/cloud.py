"""A seeded cloud of mixed provider shapes, registered through the Store contract only.

Compute hosts come in three sizes with Nova-like allocation ratios and a sprinkling of
CPU and disk traits; a few GPU hosts carry a custom class; bare-metal nodes offer one
unit of a ``CUSTOM_BAREMETAL_*`` class, as Ironic nodes do. Hosts are spread over
three availability zones (aggregates). Because only ``Store`` methods are used, the
same cloud can be built on SQLite or etcd; ``bulk()`` makes it fast where it can.
"""

from __future__ import annotations

import random
import uuid as uuidlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from berthing.model import Inventory, ProviderQuery
from berthing.scheduler import define_zone
from berthing.store import Store

__all__ = [
    "GPU_CLASS",
    "SHAPES",
    "ZONES",
    "CloudSummary",
    "Shape",
    "build_cloud",
    "cloud_fill",
    "load_summary",
]

GPU_CLASS = "CUSTOM_GPU_A100"
BAREMETAL_CLASSES = ("CUSTOM_BAREMETAL_GOLD", "CUSTOM_BAREMETAL_SILVER")
ZONES = ("az1", "az2", "az3")
SUMMARY_KEY = "summary"
#: Providers registered per ``bulk()`` block: progress shows, the write lock is let go.
CHUNK = 500
GiB = 1024


def _compute(vcpus: int, ram_gib: int, disk_gb: int, cpu_ratio: float) -> dict[str, Inventory]:
    return {
        "VCPU": Inventory(vcpus, allocation_ratio=cpu_ratio),
        "MEMORY_MB": Inventory(ram_gib * GiB, reserved=4 * GiB),
        "DISK_GB": Inventory(disk_gb, reserved=20),
    }


@dataclass(frozen=True, slots=True)
class Shape:
    name: str
    share: float
    """Fraction of all hosts with this shape."""
    inventories: Mapping[str, Inventory]
    traits: Mapping[str, float] = field(default_factory=dict)
    """trait -> chance that a host of this shape has it."""


SHAPES: tuple[Shape, ...] = (
    Shape(
        "small",
        0.45,
        _compute(16, 64, 960, 4.0),
        {"HW_CPU_X86_AVX2": 0.5, "STORAGE_DISK_SSD": 0.3},
    ),
    Shape(
        "medium",
        0.32,
        _compute(32, 128, 1920, 4.0),
        {"HW_CPU_X86_AVX2": 0.7, "STORAGE_DISK_SSD": 0.5, "HW_CPU_HYPERTHREADING": 0.5},
    ),
    Shape(
        "large",
        0.15,
        _compute(64, 512, 3840, 2.0),
        {"HW_CPU_X86_AVX2": 1.0, "HW_CPU_X86_AVX512F": 0.5, "STORAGE_DISK_SSD": 0.7},
    ),
    Shape(
        "gpu",
        0.03,
        {**_compute(48, 384, 3840, 1.0), GPU_CLASS: Inventory(8, max_unit=8)},
        {"HW_CPU_X86_AVX2": 1.0, "STORAGE_DISK_SSD": 1.0, "HW_GPU_API_VULKAN": 1.0},
    ),
    Shape("baremetal-gold", 0.025, {BAREMETAL_CLASSES[0]: Inventory(1)}),
    Shape("baremetal-silver", 0.025, {BAREMETAL_CLASSES[1]: Inventory(1)}),
)


@dataclass(frozen=True, slots=True)
class CloudSummary:
    """What was built: enough for a workload to aim its requests and size its stream.
    Kept in the store as a record, so a benchmark's workers find the cloud they run on."""

    KIND: ClassVar[str] = "sim-cloud"
    SCHEMA: ClassVar[int] = 1

    hosts: int
    seed: int
    shapes: dict[str, int]
    zones: dict[str, str]
    """Availability zone name -> aggregate uuid."""
    capacity: dict[str, int]
    """Resource class -> capacity summed over all providers (overcommit included)."""


@dataclass(frozen=True, slots=True)
class _Host:
    name: str
    uuid: str
    shape: Shape
    traits: frozenset[str]
    zone: str


def build_cloud(
    store: Store, hosts: int, seed: int, progress: Callable[[int], None] | None = None
) -> CloudSummary:
    """Register ``hosts`` providers (the same cloud for the same seed) into ``store``.

    ``progress`` is called with the number of providers registered so far. The summary
    is also written to the store as a record, so ``load_summary`` can find it later.
    """
    rng = random.Random(seed)
    for rc in (GPU_CLASS, *BAREMETAL_CLASSES):
        store.ensure_resource_class(rc)
    zones = {name: _uuid(rng) for name in ZONES}
    for name, aggregate in zones.items():
        define_zone(store, name, aggregate)
    plan = _plan(hosts, rng)
    for start in range(0, len(plan), CHUNK):
        with store.bulk():
            for host in plan[start : start + CHUNK]:
                _register(store, host, zones[host.zone])
        if progress is not None:
            progress(min(start + CHUNK, len(plan)))
    summary = _summarize(plan, seed, zones)
    store.put_record(SUMMARY_KEY, summary)
    return summary


def load_summary(store: Store) -> CloudSummary | None:
    """The summary ``build_cloud`` left in ``store``, or None if it never finished."""
    record = store.get_record(CloudSummary, SUMMARY_KEY)
    return None if record is None else record.value


def cloud_fill(store: Store) -> dict[str, float]:
    """Fraction of capacity in use per resource class, over every provider."""
    used: dict[str, int] = {}
    capacity: dict[str, int] = {}
    for state in store.find_providers(ProviderQuery()):
        for rc, inv in state.inventories.items():
            capacity[rc] = capacity.get(rc, 0) + inv.capacity
            used[rc] = used.get(rc, 0) + state.usages.get(rc, 0)
    return {rc: used[rc] / capacity[rc] for rc in sorted(capacity) if capacity[rc]}


def _uuid(rng: random.Random) -> str:
    return str(uuidlib.UUID(int=rng.getrandbits(128), version=4))


def _shape_counts(hosts: int) -> list[Shape]:
    """Each shape's share of ``hosts``, at least one of each when there is room; the
    remainder goes to the commonest shape."""
    floor = 1 if hosts >= len(SHAPES) else 0
    counts = [max(floor, int(hosts * s.share)) for s in SHAPES]
    counts[0] += hosts - sum(counts)
    return [shape for shape, n in zip(SHAPES, counts, strict=True) for _ in range(n)]


def _plan(hosts: int, rng: random.Random) -> list[_Host]:
    shapes = _shape_counts(hosts)
    rng.shuffle(shapes)
    plan = []
    for i, shape in enumerate(shapes):
        traits = frozenset(t for t, chance in sorted(shape.traits.items()) if rng.random() < chance)
        zone = ZONES[i % len(ZONES)]
        plan.append(_Host(f"{shape.name}-{i:06d}", _uuid(rng), shape, traits, zone))
    return plan


def _register(store: Store, host: _Host, aggregate: str) -> None:
    provider = store.create_provider(host.name, uuid=host.uuid)
    provider = store.set_inventories(provider.uuid, provider.generation, host.shape.inventories)
    if host.traits:
        provider = store.set_traits(provider.uuid, provider.generation, host.traits)
    store.set_aggregates(provider.uuid, provider.generation, [aggregate])


def _summarize(plan: list[_Host], seed: int, zones: dict[str, str]) -> CloudSummary:
    shapes: dict[str, int] = {}
    capacity: dict[str, int] = {}
    for host in plan:
        shapes[host.shape.name] = shapes.get(host.shape.name, 0) + 1
        for rc, inv in host.shape.inventories.items():
            capacity[rc] = capacity.get(rc, 0) + inv.capacity
    return CloudSummary(len(plan), seed, shapes, zones, capacity)
