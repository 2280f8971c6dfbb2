"""What agents report about their hosts besides inventories: liveness and load."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

__all__ = ["Heartbeat", "HostAdmin", "HostStats"]


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Key: the host's provider uuid. Written with a TTL: a host whose heartbeat has
    expired is down, even if it died without a word."""

    KIND: ClassVar[str] = "heartbeat"
    SCHEMA: ClassVar[int] = 1

    name: str
    at: float


@dataclass(frozen=True, slots=True)
class HostStats:
    """Key: the host's provider uuid. What a query cannot see: Nova's HostState extras,
    read by the num_instances and io_ops filters and the io_ops and build-failure
    weighers."""

    KIND: ClassVar[str] = "host-stats"
    SCHEMA: ClassVar[int] = 1
    ADVISORY: ClassVar[bool] = True
    """Read as advice: a store may serve it from a copy a moment behind (see RecordStore)."""

    num_instances: int = 0
    io_ops: int = 0
    build_failures: int = 0
    """Consecutive failed builds, reset by a success."""


@dataclass(frozen=True, slots=True)
class HostAdmin:
    """Key: the host's provider uuid. An operator's word on a host: disabled hosts get
    no new instances, whatever their agent says, until an operator enables them."""

    KIND: ClassVar[str] = "host-admin"
    SCHEMA: ClassVar[int] = 1

    disabled: bool
    reason: str = ""
    by: str = ""
    at: float = 0.0
