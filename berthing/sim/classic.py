"""The baseline the seed argues against: Nova's FilterScheduler of its day.

Each scheduler keeps an in-memory copy of every host's state, refreshed from the
store every ``refresh_interval`` seconds, selects on that copy, and subtracts its own
choices from it (``HostState.consume_from_request``). Nothing is claimed: the host
checks when it builds, so a race between schedulers surfaces as a failed build and a
retry. It reuses berthing's filters and weighers so that the comparison isolates one
thing: where the truth is checked.
"""

from __future__ import annotations

import dataclasses
import random
import time

from berthing.model import Consumer, ProviderQuery, ProviderState
from berthing.scheduler import (
    RequestSpec,
    Scheduler,
    SchedulerConfig,
    SchedulerMetrics,
    Selection,
)
from berthing.scheduler.context import Context
from berthing.store import Store

__all__ = ["ClassicScheduler"]


class ClassicScheduler(Scheduler):
    claims = False  # the host makes the claim, when it builds

    def __init__(
        self,
        store: Store,
        config: SchedulerConfig | None = None,
        *,
        rng: random.Random | None = None,
        metrics: SchedulerMetrics | None = None,
        refresh_interval: float = 1.0,
    ) -> None:
        super().__init__(store, config, rng=rng, metrics=metrics)
        self.refresh_interval = refresh_interval
        self._hosts: dict[str, ProviderState] = {}
        self._loaded_at = float("-inf")
        # Resizes replace an allocation atomically in both modes: only boots differ.
        self._claiming = Scheduler(store, config, rng=rng, metrics=self.metrics)

    def _candidates(self, query: ProviderQuery) -> list[ProviderState]:
        now = time.monotonic()
        if now - self._loaded_at >= self.refresh_interval:
            everything = self.store.find_providers(ProviderQuery())
            self._hosts = {s.provider.uuid: s for s in everything}
            self._loaded_at = now
        return [s for s in self._hosts.values() if query.matches(s)]

    def _claim(
        self,
        instance_uuid: str,
        generation: int | None,
        host: ProviderState,
        ctx: Context,
        rest: list[ProviderState],
    ) -> Selection:
        dest = self._destination(host, ctx)
        for puuid, resources in dest.allocations.items():
            self._consume(puuid, resources)
        alternates = tuple(self._destination(h, ctx) for h in rest[: self.config.max_alternates])
        consumer = Consumer(instance_uuid, ctx.spec.project_id, ctx.spec.user_id, generation)
        return Selection(consumer, dest, alternates)

    def _consume(self, puuid: str, resources: dict[str, int]) -> None:
        state = self._hosts.get(puuid)
        if state is None:
            return
        usages = dict(state.usages)
        for rc, amount in resources.items():
            usages[rc] = usages.get(rc, 0) + amount
        self._hosts[puuid] = dataclasses.replace(state, usages=usages)

    def _undo(self, chosen: list[Selection], spec: RequestSpec) -> None:
        """Nothing was claimed; the next refresh forgets the local subtractions."""

    def move(self, spec: RequestSpec, consumer: Consumer) -> Selection:
        return self._claiming.move(spec, consumer)
