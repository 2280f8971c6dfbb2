"""A seeded stream of boots and deletes: the same stream for every design and repeat.

Everything that could differ between runs is drawn up front from the seed: flavors,
traits, zones, server groups, instance uuids, and which instance each delete removes
(one the prefill placed or one booted earlier in the stream). Half the operations are
boots and half deletes, so the cloud stays about as full as the prefill left it: a
run measures one fill level, not a cloud filling up. A delete whose target is still
building waits for it; one whose target never became ACTIVE is skipped.

Resizes are left out: both designs replace an allocation atomically in the store
(``berthing.sim.classic``), so they would add the same work to both sides.
"""

from __future__ import annotations

import hashlib
import random
import uuid as uuidlib
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

from berthing.model import GroupPolicy, RequestSpec
from berthing.sim.cloud import BAREMETAL_CLASSES, FLAVOR_WEIGHTS, FLAVORS, GPU_CLASS, ZONES

__all__ = ["BOOT_SHARE", "GroupPlan", "Op", "fingerprint", "make_groups", "make_stream"]

BOOT_SHARE = 0.5
"""Share of boots in the stream; the rest delete a live instance."""


@dataclass(frozen=True, slots=True)
class GroupPlan:
    uuid: str
    policy: GroupPolicy


@dataclass(frozen=True, slots=True)
class Op:
    kind: str
    """boot or delete."""
    spec: RequestSpec | None = None
    target: str | None = None
    """For a delete: the instance uuid it removes."""


def make_groups(seed: int) -> list[GroupPlan]:
    rng = random.Random(f"groups/{seed}")
    policies = [GroupPolicy.ANTI_AFFINITY] * 4 + [GroupPolicy.SOFT_ANTI_AFFINITY] * 2
    policies += [GroupPolicy.AFFINITY, GroupPolicy.SOFT_AFFINITY]
    return [GroupPlan(_uuid(rng), p) for p in policies]


def make_stream(
    count: int, seed: int, live: Sequence[str], groups: Sequence[GroupPlan], pools: bool
) -> list[Op]:
    """``count`` operations; deletes pick among ``live`` (the prefill's instances) and
    the stream's own earlier boots."""
    rng = random.Random(f"stream/{seed}")
    alive = list(live)
    ops: list[Op] = []
    for _ in range(count):
        if alive and rng.random() >= BOOT_SHARE:
            ops.append(Op("delete", target=alive.pop(rng.randrange(len(alive)))))
        else:
            spec = _boot(rng, groups, pools)
            alive.append(spec.instance_uuids[0])
            ops.append(Op("boot", spec=spec))
    return ops


def fingerprint(ops: Sequence[Op]) -> str:
    """sha256 of the stream's canonical bytes: equal digests, byte-identical streams."""
    encoded = msgspec.json.encode(msgspec.to_builtins(list(ops), order="deterministic"))
    return hashlib.sha256(encoded).hexdigest()


def _uuid(rng: random.Random) -> str:
    return str(uuidlib.UUID(int=rng.getrandbits(128), version=4))


def _flavor(rng: random.Random) -> dict[str, int]:
    name = rng.choices(list(FLAVORS), FLAVOR_WEIGHTS)[0]
    return dict(FLAVORS[name])


def _boot(rng: random.Random, groups: Sequence[GroupPlan], pools: bool) -> RequestSpec:
    uuid = _uuid(rng)
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
