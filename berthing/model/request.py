"""What a user asks for: a request spec, as Nova's RequestSpec carries it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from berthing.model.candidates import Isolation, RequestGroup
from berthing.model.errors import InvalidInput
from berthing.model.inventory import validate_amount
from berthing.model.names import validate_trait_sets
from berthing.model.provider import new_uuid

__all__ = ["MAX_INSTANCES", "RequestSpec"]

MAX_INSTANCES = 1000


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """One boot request for ``num_instances`` identical instances (all or nothing).

    ``resources`` are Placement's unsuffixed group: taken from the host's tree (the
    host, or its child providers: NUMA nodes, GPUs, NICs) or a sharing provider next to
    it. ``shared_resources`` must come from a sharing provider (trait
    MISC_SHARES_VIA_AGGREGATE) in one of the host's aggregates, e.g. DISK_GB from a
    shared storage pool. ``groups`` are further suffixed groups, each served by one
    provider (a VGPU from one GPU, bandwidth from one NIC), kept apart with
    ``isolation``. A bare-metal request asks for one unit of the node's custom class
    (``{"CUSTOM_BAREMETAL_GOLD": 1}``) and takes the node whole.
    """

    resources: Mapping[str, int]
    project_id: str = "default"
    user_id: str = "default"
    num_instances: int = 1
    instance_uuids: tuple[str, ...] = ()
    shared_resources: Mapping[str, int] = field(default_factory=dict)
    required_traits: frozenset[str] = frozenset()
    forbidden_traits: frozenset[str] = frozenset()
    member_of: tuple[frozenset[str], ...] = ()
    availability_zone: str | None = None
    server_group: str | None = None
    ignore_hosts: frozenset[str] = frozenset()
    force_host: str | None = None
    same_host: frozenset[str] = frozenset()
    different_host: frozenset[str] = frozenset()
    groups: tuple[RequestGroup, ...] = ()
    isolation: Isolation = Isolation.NONE

    def __post_init__(self) -> None:
        if not self.resources:
            raise InvalidInput("A request must ask for at least one resource class.")
        for rc, amount in {**self.resources, **self.shared_resources}.items():
            validate_amount(rc, amount)
        validate_trait_sets(self.required_traits, self.forbidden_traits)
        if not 1 <= self.num_instances <= MAX_INSTANCES:
            raise InvalidInput(
                f"num_instances must be 1 to {MAX_INSTANCES}, got {self.num_instances}."
            )
        if any(g.unsuffixed for g in self.groups):
            raise InvalidInput("Extra request groups need a suffix; use resources for the rest.")
        if self.instance_uuids and len(self.instance_uuids) != self.num_instances:
            raise InvalidInput(
                f"{len(self.instance_uuids)} instance uuids for {self.num_instances} instances."
            )

    def uuids(self) -> tuple[str, ...]:
        """The instances' uuids (consumers), made up if the caller gave none."""
        return self.instance_uuids or tuple(new_uuid() for _ in range(self.num_instances))
