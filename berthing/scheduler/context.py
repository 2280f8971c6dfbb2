"""Per-request facts that filters and weighers share, gathered once in ``prepare``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from berthing.model import ProviderState
from berthing.scheduler.config import SchedulerConfig
from berthing.scheduler.request import GroupPolicy, RequestSpec

__all__ = ["HOST_STATS", "Context", "GroupView", "HostStats"]

HOST_STATS = "host-stats"
"""Record kind the agent writes per host (key: provider uuid)."""


@dataclass(frozen=True, slots=True)
class HostStats:
    """What the agent reports that a query cannot see: Nova's HostState extras."""

    num_instances: int = 0
    io_ops: int = 0
    build_failures: int = 0

    @classmethod
    def from_value(cls, value: Mapping[str, object]) -> HostStats:
        def num(name: str) -> int:
            v = value.get(name, 0)
            return v if isinstance(v, int) else 0

        return cls(num("num_instances"), num("io_ops"), num("build_failures"))


# Shared rather than built per call: filters and weighers ask four times per candidate.
_NO_STATS = HostStats()


@dataclass(frozen=True, slots=True)
class GroupView:
    uuid: str
    policy: GroupPolicy
    max_server_per_host: int
    revision: int
    members: Mapping[str, str]
    """instance uuid -> host uuid."""


@dataclass
class Context:
    spec: RequestSpec
    config: SchedulerConfig
    zone: str | None = None
    """The aggregate of the requested availability zone."""
    group: GroupView | None = None
    same_hosts: frozenset[str] = frozenset()
    different_hosts: frozenset[str] = frozenset()
    stats: dict[str, HostStats] = field(default_factory=dict)
    placed: Counter[str] = field(default_factory=Counter)
    """Hosts chosen earlier in this same multi-instance request."""
    pools: dict[str, list[ProviderState]] = field(default_factory=dict)
    """aggregate uuid -> sharing providers in it with room for ``shared_resources``."""

    def group_count(self, host_uuid: str) -> int:
        """Members of the request's group on ``host_uuid``, this request's included."""
        on_host = 0
        if self.group is not None:
            on_host = sum(1 for h in self.group.members.values() if h == host_uuid)
        return on_host + self.placed[host_uuid]

    def group_hosts(self) -> set[str]:
        hosts = set(self.group.members.values()) if self.group else set()
        return hosts | set(self.placed)

    def host_stats(self, host_uuid: str) -> HostStats:
        return self.stats.get(host_uuid) or _NO_STATS

    def pool_for(self, host: ProviderState) -> ProviderState | None:
        for agg in sorted(host.provider.aggregates):
            for pool in self.pools.get(agg, ()):
                return pool
        return None
