"""An instance on its host: the seed's "claim record", the agent's work item.

The conductor writes one under the host's key prefix (``<host>/<instance>``); the
host's agent finds it there, builds, and writes back ACTIVE or FAILED. Deleting goes
the same way (DELETING), and the agent frees the allocation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

__all__ = ["FailureCause", "Instance", "InstanceState", "instance_key"]


class InstanceState(StrEnum):
    BUILD = "BUILD"
    ACTIVE = "ACTIVE"
    FAILED = "FAILED"
    DELETING = "DELETING"


class FailureCause(StrEnum):
    NONE = ""
    CLAIM = "claim"
    """The host could not claim the resources: a scheduling race (host-claimed designs)."""
    BUILD = "build"
    """The build itself failed (hypervisor, image, network...)."""
    HOST_DOWN = "host-down"
    """The host stopped heartbeating while the build was in flight."""


def instance_key(host_uuid: str, instance_uuid: str) -> str:
    return f"{host_uuid}/{instance_uuid}"


@dataclass(frozen=True, slots=True)
class Instance:
    KIND: ClassVar[str] = "instance"
    SCHEMA: ClassVar[int] = 1

    state: InstanceState
    request: str
    """Key of the build request this instance belongs to."""
    cell: str
    allocations: Mapping[str, Mapping[str, int]]
    project_id: str
    user_id: str
    claimed: bool = True
    """Whether ``allocations`` are claimed already (by the scheduler). If not, the host
    claims them when it builds, as Nova's resource tracker did, and a lost race is a
    failed build with cause CLAIM."""
    server_group: str | None = None
    error: str = ""
    cause: FailureCause = FailureCause.NONE
