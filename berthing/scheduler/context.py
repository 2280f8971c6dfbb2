"""Per-request facts that filters and weighers share, gathered once in ``prepare``."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from berthing.model import HostStats, Record, RequestSpec, ServerGroup
from berthing.scheduler.config import SchedulerConfig

__all__ = ["Context"]

# Shared rather than built per call: filters and weighers ask four times per candidate.
_NO_STATS = HostStats()


@dataclass
class Context:
    spec: RequestSpec
    config: SchedulerConfig
    zone: str | None = None
    """The aggregate of the requested availability zone."""
    group: Record[ServerGroup] | None = None
    same_hosts: frozenset[str] = frozenset()
    different_hosts: frozenset[str] = frozenset()
    stats: dict[str, HostStats] = field(default_factory=dict)
    placed: Counter[str] = field(default_factory=Counter)
    """Hosts chosen earlier in this same multi-instance request."""
    roots: frozenset[str] | None = None
    """The only hosts the request may go to (forced, hard affinity, same_host)."""

    def group_count(self, host_uuid: str) -> int:
        """Members of the request's group on ``host_uuid``, this request's included."""
        on_host = 0 if self.group is None else self.group.value.count_on(host_uuid)
        return on_host + self.placed[host_uuid]

    def group_hosts(self) -> set[str]:
        hosts = self.group.value.hosts() if self.group else set()
        return hosts | set(self.placed)

    def host_stats(self, host_uuid: str) -> HostStats:
        return self.stats.get(host_uuid) or _NO_STATS
