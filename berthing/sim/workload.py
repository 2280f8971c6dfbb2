"""A seeded stream of boots, resizes and deletes: the same stream for every mode.

Everything that could differ between runs is drawn up front from the seed: flavors,
traits, zones, groups, instance uuids, and which earlier boot a delete or resize
targets. A delete or resize whose target is not ACTIVE when its turn comes is skipped.
"""

from __future__ import annotations

import random
import uuid as uuidlib
from collections.abc import Mapping
from dataclasses import dataclass

from berthing.model import GroupPolicy, RequestSpec
from berthing.sim.cloud import BAREMETAL_CLASSES, GPU_CLASS, ZONES

__all__ = ["FLAVORS", "REFERENCE_FLAVOR", "GroupPlan", "Op", "make_groups", "make_workload"]

FLAVORS: dict[str, dict[str, int]] = {
    "m1.tiny": {"VCPU": 1, "MEMORY_MB": 2048, "DISK_GB": 20},
    "m1.small": {"VCPU": 2, "MEMORY_MB": 4096, "DISK_GB": 40},
    "m1.medium": {"VCPU": 4, "MEMORY_MB": 8192, "DISK_GB": 80},
    "m1.large": {"VCPU": 8, "MEMORY_MB": 16384, "DISK_GB": 160},
    "m1.xlarge": {"VCPU": 16, "MEMORY_MB": 32768, "DISK_GB": 320},
}
FLAVOR_WEIGHTS = (20, 35, 25, 14, 6)
REFERENCE_FLAVOR = FLAVORS["m1.large"]
"""Free room that cannot fit this is counted as fragmented."""


@dataclass(frozen=True, slots=True)
class GroupPlan:
    uuid: str
    policy: GroupPolicy


@dataclass(frozen=True, slots=True)
class Op:
    kind: str
    """boot, delete or resize."""
    spec: RequestSpec | None = None
    target: int | None = None
    """For delete/resize: the index of the boot op whose instance it acts on."""
    resources: Mapping[str, int] | None = None


def make_groups(seed: int) -> list[GroupPlan]:
    rng = random.Random(seed ^ 0x9E3779B9)
    policies = [GroupPolicy.ANTI_AFFINITY] * 4 + [GroupPolicy.SOFT_ANTI_AFFINITY] * 2
    policies += [GroupPolicy.AFFINITY, GroupPolicy.SOFT_AFFINITY]
    return [GroupPlan(str(uuidlib.UUID(int=rng.getrandbits(128), version=4)), p) for p in policies]


def make_workload(count: int, seed: int, groups: list[GroupPlan], pools: bool) -> list[Op]:
    rng = random.Random(seed)
    ops: list[Op] = []
    boots: list[int] = []
    for _ in range(count):
        roll = rng.random()
        if boots and roll < 0.15:
            ops.append(Op("delete", target=boots.pop(rng.randrange(len(boots)))))
        elif boots and roll < 0.25:
            ops.append(Op("resize", target=rng.choice(boots), resources=_flavor(rng)))
        else:
            boots.append(len(ops))
            ops.append(Op("boot", spec=_boot(rng, groups, pools)))
    return ops


def _flavor(rng: random.Random) -> dict[str, int]:
    name = rng.choices(list(FLAVORS), FLAVOR_WEIGHTS)[0]
    return dict(FLAVORS[name])


def _boot(rng: random.Random, groups: list[GroupPlan], pools: bool) -> RequestSpec:
    uuid = str(uuidlib.UUID(int=rng.getrandbits(128), version=4))
    kind = rng.random()
    if kind < 0.03:
        return RequestSpec(
            {rng.choice(BAREMETAL_CLASSES): 1}, instance_uuids=(uuid,), project_id="ironic"
        )
    if kind < 0.07:
        resources = {"VCPU": 8, "MEMORY_MB": 65536, "DISK_GB": 200, GPU_CLASS: rng.choice((1, 2))}
        return RequestSpec(
            resources,
            instance_uuids=(uuid,),
            project_id="ml",
            required_traits=frozenset({"HW_GPU_API_VULKAN"}),
        )
    resources = _flavor(rng)
    shared: dict[str, int] = {}
    if pools and rng.random() < 0.15:  # boot from volume: the disk comes from the pool
        shared = {"DISK_GB": resources.pop("DISK_GB")}
    traits = frozenset({"HW_CPU_X86_AVX2"}) if rng.random() < 0.2 else frozenset()
    zone = rng.choice(ZONES) if rng.random() < 0.3 else None
    group = rng.choice(groups).uuid if groups and rng.random() < 0.1 else None
    return RequestSpec(
        resources,
        instance_uuids=(uuid,),
        project_id=f"p{rng.randrange(8)}",
        shared_resources=shared,
        required_traits=traits,
        availability_zone=zone,
        server_group=group,
    )
