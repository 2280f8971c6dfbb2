"""Who makes a selection true, and when: the last stage of the pipeline, pluggable.

berthing's strategy (``StoreClaims``) claims in the store as it selects: a
compare-and-set of the allocations, then of the server group's membership, so a lost
race costs the next candidate, never a failed build. A design where the host claims
when it builds (Nova's classic resource tracker, ``berthing.sim.classic``) plugs in a
strategy whose selections come back unclaimed; the agent then claims at build time
because the instance record says so.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Protocol

from berthing.model import (
    Claimed,
    Consumer,
    ConsumerNotFound,
    Destination,
    RequestSpec,
)
from berthing.scheduler import groups
from berthing.scheduler.context import Context
from berthing.store import Store

__all__ = ["Claim", "ClaimStrategy", "StoreClaims"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Claim:
    """A destination taken for ``consumer``; ``claimed``: held in the store already."""

    consumer: Consumer
    claimed: bool


class ClaimStrategy(Protocol):
    def claim(self, consumer: Consumer, dest: Destination, ctx: Context) -> Claim | None:
        """Take ``dest`` for ``consumer`` (a consumer with a generation already holds
        allocations: they are replaced). None if the race was lost: try another."""
        ...

    def undo(self, claim: Claim, spec: RequestSpec) -> None:
        """Give back a claim of a multi-instance request that cannot be completed."""
        ...

    def consumer_for_retry(self, instance_uuid: str, spec: RequestSpec) -> Consumer:
        """The consumer a reschedule places again: as it stands now in the store, or a
        new one if nothing is held for it."""
        ...


class StoreClaims:
    """Compare-and-set in the store, at selection time."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def claim(self, consumer: Consumer, dest: Destination, ctx: Context) -> Claim | None:
        result = self.store.claim(consumer, dest.allocations)
        if not isinstance(result, Claimed):
            return None
        # A move (generation given) keeps its group membership; only new members join,
        # under the group's own compare-and-set.
        group = ctx.group
        if (
            group is not None
            and consumer.generation is None
            and not groups.join_group(self.store, group.key, consumer.uuid, dest.host_uuid)
        ):
            self.store.release(consumer.uuid)
            ctx.group = groups.load_group(self.store, group.key)
            return None
        return Claim(result.consumer, claimed=True)

    def undo(self, claim: Claim, spec: RequestSpec) -> None:
        with contextlib.suppress(ConsumerNotFound):
            self.store.release(claim.consumer.uuid)
        if spec.server_group is not None:
            groups.leave_group(self.store, spec.server_group, claim.consumer.uuid)

    def consumer_for_retry(self, instance_uuid: str, spec: RequestSpec) -> Consumer:
        try:
            return self.store.get_allocations(instance_uuid)[0]
        except ConsumerNotFound:
            log.warning("%s lost its allocation before its reschedule: placing anew", instance_uuid)
            return Consumer(instance_uuid, spec.project_id, spec.user_id)
