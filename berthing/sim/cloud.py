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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import ClassVar

import msgspec

from berthing.model import (
    SHARING_TRAIT,
    Consumer,
    Instance,
    InstanceState,
    Inventory,
    ProviderQuery,
    ProviderState,
    ServerGroup,
    Zone,
    encode_value,
    instance_key,
)
from berthing.scheduler import define_zone
from berthing.store import Store

__all__ = [
    "COMPUTE_CLASSES",
    "FLAVORS",
    "FLAVOR_WEIGHTS",
    "GPU_CLASS",
    "REFERENCE_FLAVOR",
    "SHAPES",
    "ZONES",
    "CloudSummary",
    "Shape",
    "build_cloud",
    "cloud_dump",
    "cloud_fill",
    "compute_hosts",
    "fill_of",
    "fragmentation",
    "fullness",
    "load_summary",
    "prefill",
    "utilization",
]

GPU_CLASS = "CUSTOM_GPU_A100"
BAREMETAL_CLASSES = ("CUSTOM_BAREMETAL_GOLD", "CUSTOM_BAREMETAL_SILVER")
ZONES = ("az1", "az2", "az3")
SUMMARY_KEY = "summary"
#: Providers registered per ``bulk()`` block: progress shows, the write lock is let go.
CHUNK = 500
#: Providers between progress reports when registering from several threads.
PROGRESS_EVERY = 20
GiB = 1024
COMPUTE_CLASSES = ("VCPU", "MEMORY_MB", "DISK_GB")

FLAVORS: dict[str, dict[str, int]] = {
    "m1.tiny": {"VCPU": 1, "MEMORY_MB": 2048, "DISK_GB": 20},
    "m1.small": {"VCPU": 2, "MEMORY_MB": 4096, "DISK_GB": 40},
    "m1.medium": {"VCPU": 4, "MEMORY_MB": 8192, "DISK_GB": 80},
    "m1.large": {"VCPU": 8, "MEMORY_MB": 16384, "DISK_GB": 160},
    "m1.xlarge": {"VCPU": 16, "MEMORY_MB": 32768, "DISK_GB": 320},
}
FLAVOR_WEIGHTS = (20, 35, 25, 14, 6)
REFERENCE_FLAVOR = FLAVORS["m1.large"]
"""Free room on a host that cannot fit this flavor is counted as fragmented."""
PREFILL_PROJECT = "prefill"


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
    store: Store,
    hosts: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
    threads: int = 1,
) -> CloudSummary:
    """Register ``hosts`` providers (the same cloud for the same seed) into ``store``.

    ``progress`` is called with the number of providers registered so far. The summary
    is also written to the store as a record, so ``load_summary`` can find it later.
    ``threads`` > 1 registers that many providers at once (the store contract is
    thread-safe): a remote engine waits on round trips, not on its own CPU. Only the
    providers' creation order then varies; their shuffled sampling order is random on
    every backend anyway.
    """
    rng = random.Random(seed)
    for rc in (GPU_CLASS, *BAREMETAL_CLASSES):
        store.ensure_resource_class(rc)
    zones = {name: _uuid(rng) for name in ZONES}
    for name, aggregate in zones.items():
        define_zone(store, name, aggregate)
    plan = _plan(hosts, rng)
    if threads > 1:
        _register_threaded(store, plan, zones, threads, progress)
    else:
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


def _register_threaded(
    store: Store,
    plan: list[_Host],
    zones: Mapping[str, str],
    threads: int,
    progress: Callable[[int], None] | None,
) -> None:
    with ThreadPoolExecutor(threads) as pool:
        done = pool.map(lambda h: _register(store, h, zones[h.zone]), plan)
        for count, _ in enumerate(done, 1):
            if progress is not None and (count % PROGRESS_EVERY == 0 or count == len(plan)):
                progress(count)


def _summarize(plan: list[_Host], seed: int, zones: dict[str, str]) -> CloudSummary:
    shapes: dict[str, int] = {}
    capacity: dict[str, int] = {}
    for host in plan:
        shapes[host.shape.name] = shapes.get(host.shape.name, 0) + 1
        for rc, inv in host.shape.inventories.items():
            capacity[rc] = capacity.get(rc, 0) + inv.capacity
    return CloudSummary(len(plan), seed, shapes, zones, capacity)


# -- how full, how fragmented -----------------------------------------------------------


def compute_hosts(states: list[ProviderState]) -> list[ProviderState]:
    """Hosts that run instances (GPU hosts included): the ones fill is measured on.
    Bare-metal nodes and the sharing storage pools are not."""
    return [
        s
        for s in states
        if all(rc in s.inventories for rc in COMPUTE_CLASSES)
        and SHARING_TRAIT not in s.provider.traits
    ]


def fullness(state: ProviderState) -> float:
    """How full one host is: the share used of its scarcest class. A large host whose
    vCPUs are all taken is full, however much memory it has left."""
    return max(
        state.usages.get(rc, 0) / state.inventories[rc].capacity
        for rc in COMPUTE_CLASSES
        if state.inventories[rc].capacity
    )


def fill_of(states: list[ProviderState]) -> float:
    """The cloud's fill: the average compute host's ``fullness``.

    Not the share of memory: large hosts (2 GB of memory per overcommitted vCPU) and
    GPU hosts run out of vCPUs with half their memory free under this flavor mix, so
    memory alone never passes about 70% here, while the cloud is full.
    """
    hosts = compute_hosts(states)
    return sum(map(fullness, hosts)) / len(hosts) if hosts else 0.0


def utilization(states: list[ProviderState]) -> dict[str, float]:
    """Share of capacity in use per class, over the compute hosts."""
    hosts = compute_hosts(states)
    out = {}
    for rc in COMPUTE_CLASSES:
        cap = sum(s.inventories[rc].capacity for s in hosts)
        out[rc] = sum(s.usages.get(rc, 0) for s in hosts) / cap if cap else 0.0
    return out


def fragmentation(states: list[ProviderState]) -> dict[str, float]:
    """Per class, the share of free room that sits on hosts too full (in any class) to
    take the reference flavor: room no ordinary request can use."""
    hosts = compute_hosts(states)
    out = {}
    for rc in COMPUTE_CLASSES:
        free = sum(s.free(rc) for s in hosts)
        stranded = sum(s.free(rc) for s in hosts if not s.fits(REFERENCE_FLAVOR))
        out[rc] = stranded / free if free else 0.0
    return out


# -- prefill ----------------------------------------------------------------------------


@dataclass
class _Room:
    """A host's usage as the prefill tracks it, so that it never asks for a refused claim."""

    state: ProviderState
    used: dict[str, int]

    def fits(self, flavor: Mapping[str, int]) -> bool:
        inv = self.state.inventories
        return all(self.used.get(rc, 0) + n <= inv[rc].capacity for rc, n in flavor.items())

    def fullness(self) -> float:
        used = {rc: self.used.get(rc, 0) for rc in COMPUTE_CLASSES}
        return fullness(ProviderState(self.state.provider, self.state.inventories, used))


def prefill(store: Store, seed: int, fill: float) -> list[str]:
    """Place plain instances on random compute hosts until the cloud's ``fill_of`` reaches
    ``fill`` (or nothing more fits); return their uuids, oldest first.

    The same seed and fill give the same instances on the same hosts. Each is claimed
    and recorded ACTIVE on its host, as if booted earlier, so a run's deletes go the
    ordinary way (conductor, then the host's agent).
    """
    rng = random.Random(f"prefill/{seed}")
    rooms = [
        _Room(s, dict(s.usages))
        for s in sorted(compute_hosts(store.find_providers(ProviderQuery())), key=_name)
    ]
    total = sum(r.fullness() for r in rooms)
    placed: list[str] = []
    misses = 0
    while rooms and total / len(rooms) < fill and misses < 5000:
        room = rooms[rng.randrange(len(rooms))]
        flavor = dict(FLAVORS[rng.choices(list(FLAVORS), FLAVOR_WEIGHTS)[0]])
        if not room.fits(flavor):
            misses += 1  # near full, most tries miss; give up only after many in a row
            continue
        misses = 0
        before = room.fullness()
        placed.append(_place(store, room, flavor, _uuid(rng)))
        total += room.fullness() - before
    return placed


def _place(store: Store, room: _Room, flavor: dict[str, int], uuid: str) -> str:
    host = room.state.provider.uuid
    allocations = {host: flavor}
    result = store.claim(Consumer(uuid, PREFILL_PROJECT, PREFILL_PROJECT), allocations)
    if not result.ok:
        raise AssertionError(f"prefill claim refused on a host it tracks: {result}")
    for rc, n in flavor.items():
        room.used[rc] = room.used.get(rc, 0) + n
    record = Instance(
        InstanceState.ACTIVE,
        f"prefill/{uuid}",
        "cell1",
        allocations,
        PREFILL_PROJECT,
        PREFILL_PROJECT,
    )
    store.put_record(instance_key(host, uuid), record)
    return uuid


def _name(state: ProviderState) -> str:
    return state.provider.name


# -- the cloud as bytes -----------------------------------------------------------------


def cloud_dump(store: Store) -> bytes:
    """Everything that makes up the cloud, in one canonical byte string: every provider
    (uuid, name, generation, inventories, traits, aggregates, usages), every allocation,
    and the zone, server group, summary and instance records. Two stores built from the
    same seed give equal bytes; that is what "the same cloud" means here."""
    providers = []
    for state in sorted(store.find_providers(ProviderQuery()), key=_name):
        doc = msgspec.to_builtins(state, order="deterministic")
        doc["allocations"] = store.provider_allocations(state.provider.uuid)
        providers.append(doc)
    records = {
        cls.KIND: [(r.key, encode_value(r.value)) for r in store.list_records(cls)]
        for cls in (Zone, ServerGroup, CloudSummary, Instance)
    }
    return msgspec.json.encode({"providers": providers, "records": records}, order="deterministic")
