"""The baseline the seed argues against: Nova's FilterScheduler of its day.

Each scheduler keeps an in-memory copy of every host's state, refreshed from the
store every ``refresh_interval`` seconds, selects on that copy, and subtracts its own
choices from it (``HostState.consume_from_request``). Nothing is claimed: the host
claims when it builds, so a race between schedulers surfaces as a failed build and a
retry. It is berthing's own pipeline with two stages swapped (the candidate source
and the claim strategy), so that the comparison isolates one thing: where the truth
is checked.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import time

from berthing.engine import find_candidates
from berthing.model import (
    SHARING_TRAIT,
    CandidateRequest,
    CandidateResult,
    Consumer,
    ConsumerNotFound,
    Destination,
    ProviderNotFound,
    ProviderQuery,
    ProviderState,
    RequestSpec,
    StoreShape,
)
from berthing.scheduler import Claim, Context, Scheduler, SchedulerConfig, StoreClaims
from berthing.store import Store

__all__ = ["HostClaims", "HostCopy", "classic_scheduler"]


class HostCopy:
    """The scheduler's private copy of every host, refreshed now and then: a candidate
    source that answers from memory, with berthing's own candidate engine."""

    def __init__(self, store: Store, refresh_interval: float) -> None:
        self.store = store
        self.refresh_interval = refresh_interval
        self._hosts: dict[str, ProviderState] = {}
        self._loaded_at = float("-inf")
        self.queries = 0
        """Reads of the store: one per refresh, of every provider."""
        self.providers_read = 0

    def find(self, request: CandidateRequest) -> CandidateResult:
        now = time.monotonic()
        if now - self._loaded_at >= self.refresh_interval:
            everything = self.store.find_providers(ProviderQuery())
            self._hosts = {s.provider.uuid: s for s in everything}
            self._loaded_at = now
            self.queries += 1
            self.providers_read += len(everything)
        return find_candidates(self, request)

    def shape(self) -> StoreShape:
        states = self._hosts.values()
        return StoreShape(
            nested=any(s.provider.parent_uuid for s in states),
            sharing=any(SHARING_TRAIT in s.provider.traits for s in states),
        )

    def find_providers(self, query: ProviderQuery) -> list[ProviderState]:
        """Every match in the copy: the classic scheduler weighs all hosts it knows."""
        root = None
        if query.in_tree is not None:
            if query.in_tree not in self._hosts:
                raise ProviderNotFound(query.in_tree)
            root = self._hosts[query.in_tree].provider.root_uuid
        return [s for s in self._hosts.values() if query.matches(s, root)]

    def consume(self, dest: Destination) -> None:
        """Subtract a choice from the copy until the next refresh forgets it."""
        for puuid, resources in dest.allocations.items():
            state = self._hosts.get(puuid)
            if state is None:
                continue
            usages = dict(state.usages)
            for rc, amount in resources.items():
                usages[rc] = usages.get(rc, 0) + amount
            self._hosts[puuid] = dataclasses.replace(state, usages=usages)


class HostClaims:
    """Nothing is claimed at selection: the host claims when it builds."""

    def __init__(self, store: Store, copy: HostCopy) -> None:
        self.copy = copy
        self.store = store
        # Resizes replace an allocation atomically in both designs: only boots differ.
        self._moves = StoreClaims(store)

    def claim(self, consumer: Consumer, dest: Destination, ctx: Context) -> Claim | None:
        if consumer.generation is not None:
            return self._moves.claim(consumer, dest, ctx)
        self.copy.consume(dest)
        return Claim(consumer, claimed=False)

    def undo(self, claim: Claim, spec: RequestSpec) -> None:
        """Nothing was claimed; the next refresh forgets the local subtractions."""

    def consumer_for_retry(self, instance_uuid: str, spec: RequestSpec) -> Consumer:
        """The failed host had claimed; free that, and let the next host claim afresh."""
        with contextlib.suppress(ConsumerNotFound):
            self.store.release(instance_uuid)
        return Consumer(instance_uuid, spec.project_id, spec.user_id)


def classic_scheduler(
    store: Store,
    config: SchedulerConfig | None = None,
    *,
    rng: random.Random | None = None,
    refresh_interval: float = 1.0,
) -> Scheduler:
    copy = HostCopy(store, refresh_interval)
    return Scheduler(store, config, rng=rng, source=copy, claims=HostClaims(store, copy))
