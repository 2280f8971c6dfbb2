"""The store contract: the one narrow interface every backend implements.

Everything above ``berthing.store`` (scheduler, agent, conductor, API) talks to this
class only, and one contract test suite runs unchanged against every backend.

Rules every implementation keeps:

* Every method is safe to call from several threads and from several processes
  sharing one store. Each write is atomic: it happens whole or not at all.
* A write that can race (``claim``, ``release``, ``set_*``) is a compare-and-set in the
  engine's own terms: an SQL conditional update checked by row count, an etcd
  transaction, a Cassandra lightweight transaction.
* Provider generations increase by one on every change to the provider, its
  inventories, traits, aggregates or allocations against it.
* ``claim`` never leaves a provider over capacity; a lost race is returned as a
  ``ClaimConflict`` value. Bad input (unknown class, amount breaking step_size...)
  is raised as ``InvalidInput``/``NotFound`` and writes nothing.
* Driver exceptions never leave the backend: they are translated to
  ``StoreUnavailable``/``StoreCorrupt`` at the boundary, with ``raise ... from``.
"""

from __future__ import annotations

import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from typing import Any

from berthing.model import (
    Allocations,
    ClaimResult,
    Consumer,
    InvalidInput,
    Inventory,
    Provider,
    ProviderQuery,
    ProviderState,
    Record,
    validate_allocations,
    validate_uuid,
)

__all__ = ["Store"]


class Store(ABC):
    """A replicated (or embedded) home for providers, inventories and allocations."""

    #: A URL that opens this same store again, e.g. from a child process.
    url: str
    #: What this backend can do beyond the contract, e.g. ``{"watch"}``.
    capabilities: frozenset[str] = frozenset()

    # -- resource classes and traits --------------------------------------------------

    @abstractmethod
    def ensure_resource_class(self, name: str) -> bool:
        """Create a ``CUSTOM_*`` class if missing; True if this call created it."""

    @abstractmethod
    def list_resource_classes(self) -> list[str]:
        """Standard and custom classes, sorted."""

    @abstractmethod
    def delete_resource_class(self, name: str) -> None:
        """Delete a custom class. ``InUse`` if any inventory uses it."""

    @abstractmethod
    def ensure_trait(self, name: str) -> bool:
        """Create a ``CUSTOM_*`` trait if missing; True if this call created it."""

    @abstractmethod
    def list_traits(self) -> list[str]:
        """Standard and custom traits, sorted."""

    @abstractmethod
    def delete_trait(self, name: str) -> None:
        """Delete a custom trait. ``InUse`` if any provider has it."""

    # -- providers ---------------------------------------------------------------------

    @abstractmethod
    def create_provider(
        self, name: str, uuid: str | None = None, parent_uuid: str | None = None
    ) -> Provider:
        """Create a provider at generation 0. ``DuplicateName`` if the name or uuid is taken;
        ``InvalidInput`` if the parent does not exist."""

    @abstractmethod
    def get_provider(self, uuid: str) -> Provider:
        """``ProviderNotFound`` if absent."""

    @abstractmethod
    def get_provider_state(self, uuid: str) -> ProviderState:
        """The provider with its inventories and usages, read as one snapshot."""

    @abstractmethod
    def delete_provider(self, uuid: str) -> None:
        """``InUse`` if it has allocations or child providers."""

    @abstractmethod
    def set_inventories(
        self, uuid: str, generation: int, inventories: Mapping[str, Inventory]
    ) -> Provider:
        """Replace all inventories if the provider is still at ``generation``.

        ``GenerationConflict`` if it moved on; ``InUse`` if a class with allocations
        would be removed or its capacity would drop below what is allocated.
        """

    @abstractmethod
    def set_traits(self, uuid: str, generation: int, traits: Iterable[str]) -> Provider:
        """Replace all traits under a generation check; unknown traits: ``TraitNotFound``."""

    @abstractmethod
    def set_aggregates(self, uuid: str, generation: int, aggregates: Iterable[str]) -> Provider:
        """Replace all aggregate memberships under a generation check."""

    @abstractmethod
    def find_providers(self, query: ProviderQuery) -> list[ProviderState]:
        """Providers that satisfy every filter of ``query``, with their state.

        Without ``query.limit`` the order is stable (creation order). With a limit and a
        seed the backend starts at a seed-chosen point of a fixed random order.
        Unknown classes or traits in the query raise ``NotFound``.
        """

    # -- consumers, allocations and usage -------------------------------------------

    def claim(
        self,
        consumer: Consumer,
        allocations: Allocations,
        provider_generations: Mapping[str, int] | None = None,
    ) -> ClaimResult:
        """Atomically set ``consumer``'s allocations to exactly ``allocations``.

        Succeeds if and only if, at the moment of writing, every amount fits on its
        provider, every generation in ``provider_generations`` is current, and the
        consumer's generation matches ``consumer.generation`` (None: the consumer must
        not exist yet). Any allocations the consumer already held are replaced in the
        same transaction (a resize). Returns the consumer at its new generation, or a
        ``ClaimConflict`` naming what lost.
        """
        allocs = validate_allocations(allocations)
        if not allocs:
            raise InvalidInput(
                "A claim needs at least one allocation.", hint="Use release() to free a consumer."
            )
        validate_uuid(consumer.uuid, "consumer uuid")
        return self._claim(consumer, allocs, dict(provider_generations or {}))

    @abstractmethod
    def _claim(
        self,
        consumer: Consumer,
        allocations: dict[str, dict[str, int]],
        provider_generations: dict[str, int],
    ) -> ClaimResult:
        """``claim`` on input already validated (shape, names, amounts, uuids): the
        backend's one atomic compare-and-set write."""

    @abstractmethod
    def release(self, consumer_uuid: str, generation: int | None = None) -> None:
        """Free all of a consumer's allocations and forget the consumer.

        ``ConsumerNotFound`` if absent; ``GenerationConflict`` if ``generation`` is given
        and stale.
        """

    @abstractmethod
    def get_allocations(self, consumer_uuid: str) -> tuple[Consumer, dict[str, dict[str, int]]]:
        """The consumer and its allocations; ``ConsumerNotFound`` if absent."""

    @abstractmethod
    def provider_allocations(self, uuid: str) -> dict[str, dict[str, int]]:
        """consumer uuid -> class -> amount, for everything allocated against ``uuid``."""

    @abstractmethod
    def usages(self, project_id: str, user_id: str | None = None) -> dict[str, int]:
        """Total allocated per class for a project (and user, if given)."""

    # -- versioned records (build requests, instances, heartbeats) -------------------

    @abstractmethod
    def put_record(
        self,
        kind: str,
        key: str,
        value: Mapping[str, Any],
        expected_revision: int | None = None,
        ttl: float | None = None,
    ) -> Record:
        """Create (``expected_revision`` None: must not exist) or replace (must still be at
        ``expected_revision``) a JSON document. ``GenerationConflict`` otherwise.

        With ``ttl`` (seconds) the record disappears by itself unless written again in
        time: a heartbeat. Returns the record at its new store-wide revision.
        """

    @abstractmethod
    def get_record(self, kind: str, key: str) -> Record | None:
        """The record, or None if absent or expired."""

    def get_records(self, kind: str, keys: Iterable[str]) -> dict[str, Record]:
        """Live records among ``keys``, by key. Backends may override to batch the reads."""
        found = {}
        for key in keys:
            rec = self.get_record(kind, key)
            if rec is not None:
                found[key] = rec
        return found

    @abstractmethod
    def list_records(self, kind: str, prefix: str = "", after_revision: int = 0) -> list[Record]:
        """Live records of ``kind`` whose key starts with ``prefix`` and whose revision is
        above ``after_revision``, sorted by key."""

    @abstractmethod
    def delete_record(self, kind: str, key: str, expected_revision: int | None = None) -> bool:
        """Delete; False if absent. ``GenerationConflict`` if ``expected_revision`` is stale."""

    def watch_records(
        self, kind: str, prefix: str, after_revision: int, timeout: float
    ) -> list[Record]:
        """Wait up to ``timeout`` seconds for records under ``prefix`` written after
        ``after_revision``; return them (possibly none).

        This default polls; backends with a native watch (etcd) override it so that an
        agent hears of its work without a message broker and without busy polling.
        """
        deadline = time.monotonic() + timeout
        while True:
            found = self.list_records(kind, prefix, after_revision)
            left = deadline - time.monotonic()
            if found or left <= 0:
                return found
            time.sleep(min(self.poll_interval, left))

    #: Seconds between polls in the default ``watch_records``.
    poll_interval: float = 0.05

    # -- batching ----------------------------------------------------------------------

    def bulk(self) -> AbstractContextManager[None]:
        """Group many writes for speed where the backend can; no atomicity promise.

        Registering a large cloud is many small writes, and a backend that pays a commit
        per write (SQLite's lock and WAL append) is far faster when they share one. Every
        write inside keeps its own contract: it happens whole or not at all, and one that
        fails does not undo the others. Writes that succeeded stay written even if the
        block raises, exactly as without ``bulk()``; but other clients may see them only
        when the block ends, and a backend may hold its write lock for the whole block,
        so keep it to setup work, not to a scheduler's hot path. Nesting is allowed.
        """
        return contextlib.nullcontext()

    # -- lifecycle ---------------------------------------------------------------------

    def close(self) -> None:  # noqa: B027 - optional hook; most backends hold nothing
        """Release connections. The store must not be used afterwards."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
