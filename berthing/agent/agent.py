"""The compute agent: one per host.

It writes its provider into the store on start, on every significant change and on a
heartbeat (a record with a TTL, so a dead host drops out by itself). It learns what to
build from the store: the conductor writes an ``instance`` record under the agent's
own key prefix and the agent watches that prefix (a native watch on etcd, polling on
SQLite) -- no message broker.

An instance record in state BUILD is the seed's "claim record": when the scheduler
already claimed (``claimed: true``) the allocation exists and building just turns it
ACTIVE; in classic mode (``claimed: false``) the agent makes the claim itself at build
time, as Nova's resource tracker did, and a lost race is a failed build.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from berthing.agent.host import HostDescription
from berthing.model import (
    Claimed,
    Consumer,
    ConsumerNotFound,
    GenerationConflict,
    Provider,
    ProviderQuery,
    Record,
)
from berthing.scheduler import HOST_STATS
from berthing.store import Store

__all__ = ["HEARTBEAT", "INSTANCE", "Agent", "Builder", "InstanceState", "instance_key"]

log = logging.getLogger(__name__)

INSTANCE = "instance"
HEARTBEAT = "heartbeat"

Builder = Callable[[Record], str | None]
"""Builds an instance; returns None on success or why it failed."""


class InstanceState(StrEnum):
    BUILD = "BUILD"
    ACTIVE = "ACTIVE"
    FAILED = "FAILED"
    DELETING = "DELETING"


def instance_key(host_uuid: str, instance_uuid: str) -> str:
    return f"{host_uuid}/{instance_uuid}"


def _revision(rec: Record | None) -> int | None:
    return None if rec is None else rec.revision


def _always_builds(record: Record) -> str | None:
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
        self._last_stats: dict[str, int] | None = None
        # Consecutive failed builds, reset by a success: Nova's build-failure signal.
        self.build_failures = 0

    # -- the provider ----------------------------------------------------------------

    def register(self) -> Provider:
        """Create or refresh this host's provider; clear a down-mark left by the reaper."""
        found = self.store.find_providers(ProviderQuery(name=self.host.name))
        provider = found[0].provider if found else self.store.create_provider(self.host.name)
        self.uuid = provider.uuid
        for rc in self.host.custom_classes:
            self.store.ensure_resource_class(rc)
        for trait in self.host.traits:
            if trait.startswith("CUSTOM_"):
                self.store.ensure_trait(trait)
        provider = self._write_provider()
        self.heartbeat()
        self.report_stats()
        return provider

    def _write_provider(self) -> Provider:
        for _ in range(10):
            p = self.store.get_provider(self.uuid)
            try:
                p = self.store.set_inventories(p.uuid, p.generation, self.host.inventories)
                p = self.store.set_traits(p.uuid, p.generation, self.host.traits)
                return self.store.set_aggregates(p.uuid, p.generation, self.host.aggregates)
            except GenerationConflict:
                continue  # a claim landed between our read and write: read again
        raise GenerationConflict("Resource provider", self.uuid, None, None)

    def heartbeat(self) -> None:
        value = {"name": self.host.name, "at": time.time()}
        for _ in range(5):
            current = self.store.get_record(HEARTBEAT, self.uuid)
            try:
                self.store.put_record(
                    HEARTBEAT, self.uuid, value, _revision(current), self.heartbeat_ttl
                )
                return
            except GenerationConflict:
                continue

    # -- work ------------------------------------------------------------------------

    def poll(self, timeout: float = 0.0) -> int:
        """Handle instance records written since the last poll; how many were handled."""
        records = self.store.watch_records(INSTANCE, f"{self.uuid}/", self.revision, timeout)
        for rec in records:
            self.revision = max(self.revision, rec.revision)
            self.handle(rec)
        if records:
            self.report_stats()
        return len(records)

    def handle(self, rec: Record) -> None:
        state = rec.value.get("state")
        if state == InstanceState.BUILD:
            self._build(rec)
        elif state == InstanceState.DELETING:
            self._destroy(rec)

    def _build(self, rec: Record) -> None:
        claim_error = self._claim_if_needed(rec)
        error = claim_error or self.builder(rec)
        state = InstanceState.FAILED if error else InstanceState.ACTIVE
        self.build_failures = self.build_failures + 1 if error else 0
        cause = "claim" if claim_error else "build" if error else ""
        self._set_state(rec, state, error or "", cause)
        log.info("%s: %s %s %s", self.host.name, rec.key, state, error or "")

    def _claim_if_needed(self, rec: Record) -> str | None:
        if rec.value.get("claimed", True):
            return None
        v = rec.value
        consumer = Consumer(rec.key.split("/", 1)[1], v["project_id"], v["user_id"])
        result = self.store.claim(consumer, v["allocations"])
        if isinstance(result, Claimed):
            return None
        return f"claim failed at build time: {result.kind} ({result.detail})"

    def _destroy(self, rec: Record) -> None:
        with contextlib.suppress(ConsumerNotFound):  # freed already (a retried delete)
            self.store.release(rec.key.split("/", 1)[1])
        with contextlib.suppress(
            GenerationConflict
        ):  # changed under us; the next poll sees the new state
            self.store.delete_record(INSTANCE, rec.key, rec.revision)

    def _set_state(self, rec: Record, state: InstanceState, error: str, cause: str) -> None:
        """``cause`` tells a lost claim ("claim": a scheduling race) from a failed build."""
        value: dict[str, Any] = {**rec.value, "state": state.value, "error": error, "cause": cause}
        with contextlib.suppress(
            GenerationConflict
        ):  # the conductor moved it on (e.g. to DELETING); we see that next poll
            self.store.put_record(INSTANCE, rec.key, value, rec.revision)

    def report_stats(self) -> None:
        """Host facts a query cannot see, for the scheduler's filters and weighers."""
        records = self.store.list_records(INSTANCE, f"{self.uuid}/")
        states = [r.value.get("state") for r in records]
        stats = {
            "num_instances": len(records),
            "io_ops": states.count(InstanceState.BUILD),
            "build_failures": self.build_failures,
        }
        if stats == self._last_stats:
            return
        current = self.store.get_record(HOST_STATS, self.uuid)
        try:
            self.store.put_record(HOST_STATS, self.uuid, stats, _revision(current))
            self._last_stats = stats
        except GenerationConflict:
            self._last_stats = None  # retry on the next change
