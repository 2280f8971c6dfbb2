"""The native API's payloads: typed values in and out (msgspec Structs), from which the
OpenAPI document is generated (``openapi.py``)."""

from __future__ import annotations

import msgspec

__all__ = [
    "BootAccepted",
    "BootRequest",
    "DisableRequest",
    "EventView",
    "Explanation",
    "GroupCreate",
    "GroupView",
    "HostList",
    "HostView",
    "ResizeRequest",
    "ResizeResult",
    "ServerList",
    "ServerView",
    "ZoneList",
    "ZonePut",
    "ZoneView",
]


class _In(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Requests: an unknown field is an error, not silently ignored."""


class BootRequest(_In):
    resources: dict[str, int]
    """Amounts per resource class, from the host's tree (e.g. {"VCPU": 2, "MEMORY_MB": 4096})."""
    name: str = ""
    count: int = 1
    shared_resources: dict[str, int] = {}
    """From a sharing provider next to the host (e.g. {"DISK_GB": 100} from a pool)."""
    required_traits: list[str] = []
    forbidden_traits: list[str] = []
    availability_zone: str | None = None
    server_group: str | None = None
    same_host: list[str] = []
    different_host: list[str] = []
    project_id: str | None = None
    """Administrators only: boot for another project."""


class BootAccepted(msgspec.Struct):
    request: str
    servers: list[str]


class EventView(msgspec.Struct):
    at: float
    what: str
    host: str
    detail: str


class ServerView(msgspec.Struct):
    uuid: str
    name: str
    project_id: str
    user_id: str
    state: str
    host: str | None
    host_name: str | None
    allocations: dict[str, dict[str, int]]
    attempts: int
    error: str
    request: str
    created: float
    events: list[EventView]


class ServerList(msgspec.Struct):
    servers: list[ServerView]
    next_marker: str | None


class ResizeRequest(_In):
    resources: dict[str, int]


class ResizeResult(msgspec.Struct):
    uuid: str
    host: str


class HostView(msgspec.Struct):
    uuid: str
    name: str
    state: str
    """up, down (no heartbeat) or disabled."""
    disabled_reason: str
    capacity: dict[str, int]
    used: dict[str, int]
    traits: list[str]
    aggregates: list[str]
    num_instances: int


class HostList(msgspec.Struct):
    hosts: list[HostView]


class DisableRequest(_In):
    reason: str = ""


class GroupCreate(_In):
    policy: str
    name: str = ""
    max_server_per_host: int = 1


class GroupView(msgspec.Struct):
    uuid: str
    name: str
    policy: str
    max_server_per_host: int
    project_id: str
    members: dict[str, str]


class ZonePut(_In):
    aggregate: str


class ZoneView(msgspec.Struct):
    name: str
    aggregate: str
    hosts: int


class ZoneList(msgspec.Struct):
    availability_zones: list[ZoneView]


class Explanation(msgspec.Struct):
    fits: bool
    summary: str
    """kube-scheduler style: "0/300 hosts are available: 212 not enough VCPU, ..."."""
    hosts: int
    rejected: dict[str, int]
    """Hosts ruled out, by the first constraint each fails."""
    destinations: list[str]
    """If it fits: the hosts the scheduler would pick from, best first."""
    reasons: list[str]
