"""The benchmark's seeded stream of boot requests, shaped like a public cloud's day.

Mostly small flavors; some ask for a CPU or disk trait, some for an availability
zone, some join a server group; a trickle wants a GPU or a whole bare-metal node.
GPU and bare-metal demand is sized to what the cloud has, so that those small pools
do not run dry and turn the benchmark into a test of "no valid host".
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from berthing.model import GroupPolicy, RequestSpec
from berthing.scheduler import create_group
from berthing.sim.cloud import BAREMETAL_CLASSES, GPU_CLASS, CloudSummary
from berthing.store import Store

__all__ = ["FLAVORS", "Flavor", "Mix", "expected_fill", "mix_for", "request_stream"]


@dataclass(frozen=True, slots=True)
class Flavor:
    name: str
    resources: Mapping[str, int]
    weight: float


def _vm(vcpus: int, ram_mb: int, disk_gb: int) -> dict[str, int]:
    return {"VCPU": vcpus, "MEMORY_MB": ram_mb, "DISK_GB": disk_gb}


FLAVORS: tuple[Flavor, ...] = (
    Flavor("m1.tiny", _vm(1, 512, 1), 0.15),
    Flavor("m1.small", _vm(1, 2048, 20), 0.30),
    Flavor("m1.medium", _vm(2, 4096, 40), 0.30),
    Flavor("m1.large", _vm(4, 8192, 80), 0.17),
    Flavor("m1.xlarge", _vm(8, 16384, 160), 0.08),
)
GPU_FLAVOR = Flavor("g1.a100", {**_vm(8, 65536, 200), GPU_CLASS: 1}, 0.0)
#: trait -> share of VM requests that require it.
TRAITS: Mapping[str, float] = {
    "HW_CPU_X86_AVX2": 0.10,
    "STORAGE_DISK_SSD": 0.08,
    "HW_CPU_X86_AVX512F": 0.02,
}
ZONE_SHARE = 0.3
GROUP_SHARE = 0.1
GROUP_SIZE = 4
# Hard affinity is left out on purpose: the candidate query is not pinned to the
# group's host, so in a large cloud the one allowed host is rarely among the sampled
# candidates and the request fails (see docs/benchmarks.md).
GROUP_POLICIES = (
    GroupPolicy.ANTI_AFFINITY,
    GroupPolicy.SOFT_ANTI_AFFINITY,
    GroupPolicy.SOFT_AFFINITY,
)
#: Most of a special pool (GPUs, bare-metal nodes) a whole benchmark may ask for.
POOL_BUDGET = 0.5


@dataclass(frozen=True, slots=True)
class Mix:
    """Share of requests that want a GPU, and a bare-metal node (of either class)."""

    gpu: float
    baremetal: float


def mix_for(summary: CloudSummary, total_requests: int) -> Mix:
    """At most 2% GPU and 2% bare-metal, and never more than ``POOL_BUDGET`` of either
    pool over ``total_requests`` (every process's stream together)."""
    total = max(total_requests, 1)
    nodes = min(summary.capacity.get(rc, 0) for rc in BAREMETAL_CLASSES) * len(BAREMETAL_CLASSES)
    gpus = summary.capacity.get(GPU_CLASS, 0)
    return Mix(
        gpu=min(0.02, POOL_BUDGET * gpus / total),
        baremetal=min(0.02, POOL_BUDGET * nodes / total),
    )


def expected_fill(summary: CloudSummary, total_requests: int) -> dict[str, float]:
    """Fraction of VCPU, MEMORY_MB and DISK_GB that ``total_requests`` would take."""
    mix = mix_for(summary, total_requests)
    vm_share = 1.0 - mix.gpu - mix.baremetal
    out = {}
    for rc in ("VCPU", "MEMORY_MB", "DISK_GB"):
        per_request = vm_share * sum(f.weight * f.resources[rc] for f in FLAVORS)
        per_request += mix.gpu * GPU_FLAVOR.resources[rc]
        out[rc] = per_request * total_requests / max(summary.capacity.get(rc, 0), 1)
    return out


class _Groups:
    """Hands out server groups, ``GROUP_SIZE`` members each, creating them as needed."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.used = 0
        self.current = ""

    def next(self) -> str:
        if self.used % GROUP_SIZE == 0:
            policy = GROUP_POLICIES[(self.used // GROUP_SIZE) % len(GROUP_POLICIES)]
            self.current = create_group(self.store, policy)
        self.used += 1
        return self.current


def request_stream(
    store: Store, summary: CloudSummary, count: int, seed: int, total_requests: int = 0
) -> list[RequestSpec]:
    """``count`` requests; the server groups they name are created in ``store`` now,
    so that building the stream stays outside the timed part.

    ``total_requests`` is the whole benchmark's demand (all processes), used to keep
    GPU and bare-metal requests within what the cloud has.
    """
    rng = random.Random(seed)
    mix = mix_for(summary, total_requests or count)
    groups = _Groups(store)
    return [_request(rng, summary, mix, groups) for _ in range(count)]


def _request(rng: random.Random, summary: CloudSummary, mix: Mix, groups: _Groups) -> RequestSpec:
    roll = rng.random()
    if roll < mix.baremetal:
        return RequestSpec({rng.choice(BAREMETAL_CLASSES): 1})
    if roll < mix.baremetal + mix.gpu:
        return RequestSpec(GPU_FLAVOR.resources)
    flavor = rng.choices(FLAVORS, weights=[f.weight for f in FLAVORS])[0]
    traits = frozenset(t for t, share in TRAITS.items() if rng.random() < share)
    zone = rng.choice(sorted(summary.zones)) if rng.random() < ZONE_SHARE else None
    group = groups.next() if rng.random() < GROUP_SHARE else None
    return RequestSpec(
        flavor.resources, required_traits=traits, availability_zone=zone, server_group=group
    )
