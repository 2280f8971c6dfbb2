"""Server groups and availability zones: records the scheduler reads and CAS-updates.

A group's membership is a compare-and-set on its record: after the resources are
claimed the member is added under a revision check, and the policy is checked again
against whoever joined first. Two schedulers can therefore never both place
anti-affine members on one host.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

from berthing.model.errors import InvalidInput

__all__ = ["GroupPolicy", "ServerGroup", "Zone"]


class GroupPolicy(StrEnum):
    AFFINITY = "affinity"
    ANTI_AFFINITY = "anti-affinity"
    SOFT_AFFINITY = "soft-affinity"
    SOFT_ANTI_AFFINITY = "soft-anti-affinity"

    @classmethod
    def parse(cls, value: object) -> GroupPolicy:
        try:
            return cls(str(value))
        except ValueError as exc:
            known = ", ".join(p.value for p in cls)
            raise InvalidInput(
                f"Unknown server group policy {value!r}.", hint=f"Use {known}."
            ) from exc

    @property
    def hard(self) -> bool:
        """Hard policies are filters (and checked again on join); soft ones are weighers."""
        return self in (GroupPolicy.AFFINITY, GroupPolicy.ANTI_AFFINITY)


@dataclass(frozen=True, slots=True)
class ServerGroup:
    """Key: the group's uuid. ``members``: instance uuid -> host uuid."""

    KIND: ClassVar[str] = "server-group"
    SCHEMA: ClassVar[int] = 1

    policy: GroupPolicy
    max_server_per_host: int = 1
    members: Mapping[str, str] = field(default_factory=dict)
    name: str = ""
    project_id: str = ""

    def __post_init__(self) -> None:
        if self.max_server_per_host < 1:
            raise InvalidInput(
                f"max_server_per_host must be at least 1, got {self.max_server_per_host}."
            )

    def hosts(self) -> set[str]:
        return set(self.members.values())

    def count_on(self, host_uuid: str) -> int:
        return sum(1 for h in self.members.values() if h == host_uuid)

    def allows(self, host_uuid: str) -> bool:
        """Whether one more member on ``host_uuid`` keeps a hard policy."""
        if self.policy is GroupPolicy.AFFINITY:
            return not self.members or host_uuid in self.hosts()
        if self.policy is GroupPolicy.ANTI_AFFINITY:
            return self.count_on(host_uuid) < self.max_server_per_host
        return True

    def with_member(self, instance_uuid: str, host_uuid: str) -> ServerGroup:
        return _replace_members(self, {**self.members, instance_uuid: host_uuid})

    def without_member(self, instance_uuid: str) -> ServerGroup:
        return _replace_members(self, {i: h for i, h in self.members.items() if i != instance_uuid})


def _replace_members(group: ServerGroup, members: Mapping[str, str]) -> ServerGroup:
    return ServerGroup(
        group.policy, group.max_server_per_host, members, group.name, group.project_id
    )


@dataclass(frozen=True, slots=True)
class Zone:
    """Key: the zone's name. Its hosts are the members of ``aggregate``, as Nova maps
    availability zones to Placement aggregates."""

    KIND: ClassVar[str] = "availability-zone"
    SCHEMA: ClassVar[int] = 1

    aggregate: str
