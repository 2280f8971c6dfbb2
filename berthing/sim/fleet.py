"""Many simulated hosts in one process.

A real deployment runs one ``Agent`` per host, each watching its own prefix. A
simulation of hundreds of hosts on two cores cannot afford hundreds of processes or
watches, so the fleet shares one watch over all instance records and hands each
record to the agent of the host in its key. Agent logic is unchanged.
"""

from __future__ import annotations

import time

from berthing.agent import Agent, Builder, HostDescription
from berthing.model import Instance
from berthing.store import Store

__all__ = ["Fleet"]


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
        self._beat_at = 0.0

    def register(self) -> None:
        for agent in self.agents:
            agent.register()
            self.by_uuid[agent.uuid] = agent
        self._beat_at = time.monotonic()

    def poll(self, timeout: float = 0.1) -> int:
        """Handle every instance record written since the last poll."""
        records = self.store.watch_records(Instance, "", self.revision, timeout)
        touched: dict[str, Agent] = {}
        for rec in records:
            self.revision = max(self.revision, rec.revision)
            agent = self.by_uuid.get(rec.key.split("/", 1)[0])
            if agent is not None:
                agent.handle(rec)
                touched[agent.uuid] = agent
        for agent in touched.values():
            agent.report_stats()
        if time.monotonic() - self._beat_at >= self.heartbeat_every:
            for agent in self.agents:
                agent.heartbeat()
            self._beat_at = time.monotonic()
        return len(records)
