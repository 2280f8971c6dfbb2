"""The compute agent: one per host.

It writes its provider into the store on start, on every significant change and on a
periodic resync, and heartbeats with a record that has a TTL (so a dead host drops out
by itself). It learns what to build from the store: the conductor writes an
``Instance`` record under the agent's own key prefix and the agent watches that prefix
(a native watch on etcd, polling elsewhere): no message broker.

An instance record in state BUILD is the seed's "claim record". If the record says the
allocation is claimed already, building just turns it ACTIVE; if not (a design where
the host claims, as Nova's resource tracker did), the agent claims at build time and a
lost race is a failed build with cause CLAIM.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable

from berthing.agent.host import HostDescription
from berthing.model import (
    DISABLED_TRAIT,
    Claimed,
    Consumer,
    ConsumerNotFound,
    FailureCause,
    GenerationConflict,
    Heartbeat,
    HostAdmin,
    HostStats,
    Instance,
    InstanceState,
    Provider,
    ProviderQuery,
    Record,
    is_custom,
)
from berthing.runtime import Every, Liveness, StopSignal, retry_conflicts
from berthing.store import Store

__all__ = ["Agent", "Builder"]

log = logging.getLogger(__name__)

Builder = Callable[[Record[Instance]], str | None]
"""Builds an instance; returns None on success or why it failed."""


def _always_builds(record: Record[Instance]) -> str | None:
    return None


class Agent:
    def __init__(
        self,
        store: Store,
        host: HostDescription,
        *,
        builder: Builder = _always_builds,
        heartbeat_ttl: float = 10.0,
    ) -> None:
        self.store = store
        self.host = host
        self.builder = builder
        self.heartbeat_ttl = heartbeat_ttl
        self.uuid = ""
        self.revision = 0
        self.liveness = Liveness()
        self._last_stats: HostStats | None = None
        # Consecutive failed builds, reset by a success: Nova's build-failure signal.
        self.build_failures = 0

    # -- the service loop ------------------------------------------------------------

    def run(self, stop: StopSignal, *, resync_every: float = 600.0) -> None:
        """Register, then build and destroy what the store says until ``stop`` is set;
        heartbeat at a third of the TTL and rewrite the provider every ``resync_every``
        (the periodic full sync the seed asks for)."""
        beat, resync = Every(self.heartbeat_ttl / 3), Every(resync_every)
        while not stop.is_set():
            if resync.due():
                self.register()
            elif beat.due():
                self.heartbeat()
            self.poll(timeout=min(1.0, self.heartbeat_ttl / 3))
            self.liveness.beat()

    # -- the provider ----------------------------------------------------------------

    def register(self) -> Provider:
        """Create or refresh this host's provider; clear a down-mark left by the reaper."""
        found = self.store.find_providers(ProviderQuery(name=self.host.name))
        provider = found[0].provider if found else self.store.create_provider(self.host.name)
        self.uuid = provider.uuid
        for rc in self.host.custom_classes:
            self.store.ensure_resource_class(rc)
        for trait in filter(is_custom, self.host.traits):
            self.store.ensure_trait(trait)
        provider = retry_conflicts(f"registering {self.host.name}", self._write_provider)
        self.heartbeat()
        self.report_stats()
        return provider

    def _write_provider(self) -> Provider:
        p = self.store.get_provider(self.uuid)
        p = self.store.set_inventories(p.uuid, p.generation, self.host.inventories)
        p = self.store.set_traits(p.uuid, p.generation, self._traits())
        return self.store.set_aggregates(p.uuid, p.generation, self.host.aggregates)

    def _traits(self) -> frozenset[str]:
        """The host's traits; disabled if an operator disabled it (the reaper's mark of
        a silent host is cleared: the host is back)."""
        admin = self.store.get_record(HostAdmin, self.uuid)
        if admin is not None and admin.value.disabled:
            return self.host.traits | {DISABLED_TRAIT}
        return self.host.traits

    def heartbeat(self) -> None:
        beat = Heartbeat(self.host.name, time.time())

        def attempt() -> None:
            current = self.store.get_record(Heartbeat, self.uuid)
            revision = None if current is None else current.revision
            self.store.put_record(self.uuid, beat, revision, self.heartbeat_ttl)

        retry_conflicts(f"heartbeat of {self.host.name}", attempt)

    # -- work ------------------------------------------------------------------------

    def poll(self, timeout: float = 0.0) -> int:
        """Handle instance records written since the last poll; how many were handled."""
        records = self.store.watch_records(Instance, f"{self.uuid}/", self.revision, timeout)
        for rec in records:
            self.revision = max(self.revision, rec.revision)
            self.handle(rec)
        if records:
            self.report_stats()
        return len(records)

    def handle(self, rec: Record[Instance]) -> None:
        if rec.value.state is InstanceState.BUILD:
            self._build(rec)
        elif rec.value.state is InstanceState.DELETING:
            self._destroy(rec)

    def _build(self, rec: Record[Instance]) -> None:
        claim_error = self._claim_unless_claimed(rec)
        error = claim_error or self.builder(rec)
        self.build_failures = self.build_failures + 1 if error else 0
        if not error:
            self._set_state(rec, InstanceState.ACTIVE, "", FailureCause.NONE)
        else:
            cause = FailureCause.CLAIM if claim_error else FailureCause.BUILD
            self._set_state(rec, InstanceState.FAILED, error, cause)
        log.info("%s: %s %s", self.host.name, rec.key, error or "ACTIVE")

    def _claim_unless_claimed(self, rec: Record[Instance]) -> str | None:
        v = rec.value
        if v.claimed:
            return None
        consumer = Consumer(_instance_uuid(rec), v.project_id, v.user_id)
        result = self.store.claim(consumer, v.allocations)
        if isinstance(result, Claimed):
            return None
        return f"claim failed at build time: {result.kind} ({result.detail})"

    def _destroy(self, rec: Record[Instance]) -> None:
        with contextlib.suppress(ConsumerNotFound):  # freed already (a retried delete)
            self.store.release(_instance_uuid(rec))
        # A conflict means the record changed under us; the next poll sees the new state.
        with contextlib.suppress(GenerationConflict):
            self.store.delete_record(Instance, rec.key, rec.revision)

    def _set_state(
        self, rec: Record[Instance], state: InstanceState, error: str, cause: FailureCause
    ) -> None:
        value = dataclasses.replace(rec.value, state=state, error=error, cause=cause)
        # A conflict: the conductor moved it on (e.g. to DELETING); the next poll sees it.
        with contextlib.suppress(GenerationConflict):
            self.store.put_record(rec.key, value, rec.revision)

    def report_stats(self) -> None:
        """Host facts a query cannot see, for the scheduler's filters and weighers."""
        records = self.store.list_records(Instance, f"{self.uuid}/")
        stats = HostStats(
            num_instances=len(records),
            io_ops=sum(r.value.state is InstanceState.BUILD for r in records),
            build_failures=self.build_failures,
        )
        if stats == self._last_stats:
            return
        current = self.store.get_record(HostStats, self.uuid)
        try:
            self.store.put_record(self.uuid, stats, None if current is None else current.revision)
            self._last_stats = stats
        except GenerationConflict:
            self._last_stats = None  # written again on the next change


def _instance_uuid(rec: Record[Instance]) -> str:
    return rec.key.split("/", 1)[1]
