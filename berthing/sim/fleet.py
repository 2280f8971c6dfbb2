"""Many simulated hosts in one process.

A real deployment runs one ``Agent`` per host, each watching its own prefix. A
simulation of hundreds of hosts on two cores cannot afford hundreds of processes or
watches, so the fleet shares one watch over all instance records and hands each
record to the agent of the host in its key. Agent logic is unchanged.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import ClassVar

from berthing.agent import Agent, Builder, HostDescription
from berthing.model import Instance, InstanceState, ProviderState, Record
from berthing.store import Store

__all__ = ["Fleet", "seeded_failures"]


@dataclass(frozen=True, slots=True)
class _Attached:
    """Written when a fleet attaches: its revision is where the fleet's watch starts."""

    KIND: ClassVar[str] = "sim-fleet"
    SCHEMA: ClassVar[int] = 1

    hosts: int


def seeded_failures(seed: int, rate: float) -> Builder:
    """A builder that fails a build with chance ``rate``, decided by the seed, the host
    and the instance alone: the same placement fails in every run, whatever order the
    builds arrive in."""

    def build(record: Record[Instance]) -> str | None:
        digest = hashlib.sha256(f"{seed}/{record.key}".encode()).digest()
        roll = int.from_bytes(digest[:8], "big") / 2**64
        return "injected build failure" if roll < rate else None

    return build


class Fleet:
    def __init__(
        self,
        store: Store,
        hosts: list[HostDescription],
        builder: Builder,
        *,
        heartbeat_ttl: float = 30.0,
        heartbeat_every: float = 10.0,
    ) -> None:
        self.store = store
        self.agents = [Agent(store, h, builder=builder, heartbeat_ttl=heartbeat_ttl) for h in hosts]
        self.by_uuid: dict[str, Agent] = {}
        self.heartbeat_every = heartbeat_every
        self.revision = 0
        self.host_claims = 0
        """Builds whose host had to claim (the instance record says unclaimed)."""
        self._beat_at = 0.0

    def register(self) -> None:
        """Register every host, as agents do on start."""
        for agent in self.agents:
            agent.register()
            self.by_uuid[agent.uuid] = agent
        self._beat_at = time.monotonic()

    def attach(self, states: list[ProviderState]) -> None:
        """Take over hosts a fleet registered before (a prepared cloud): no writes per
        host, and only instance records written from now on are handled."""
        uuids = {s.provider.name: s.provider.uuid for s in states}
        for agent in self.agents:
            agent.uuid = uuids[agent.host.name]
            self.by_uuid[agent.uuid] = agent
        self.revision = self.store.put_record("attached", _Attached(len(self.agents))).revision
        self._beat_at = time.monotonic()

    def poll(self, timeout: float = 0.1) -> int:
        """Handle every instance record written since the last poll."""
        records = self.store.watch_records(Instance, "", self.revision, timeout)
        touched: dict[str, Agent] = {}
        for rec in records:
            self.revision = max(self.revision, rec.revision)
            agent = self.by_uuid.get(rec.key.split("/", 1)[0])
            if agent is not None:
                self.host_claims += rec.value.state is InstanceState.BUILD and not rec.value.claimed
                agent.handle(rec)
                touched[agent.uuid] = agent
        for agent in touched.values():
            agent.report_stats()
        if time.monotonic() - self._beat_at >= self.heartbeat_every:
            for agent in self.agents:
                agent.heartbeat()
            self._beat_at = time.monotonic()
        return len(records)
