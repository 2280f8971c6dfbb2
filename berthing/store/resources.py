"""The resource contract: providers, their inventories, traits and aggregates, and the
allocations consumers hold against them (OpenStack Placement's data, and its claims).

Everything above ``berthing.store`` talks to this contract, never to a backend, and
one contract test suite (``tests/store/``) runs unchanged against every backend.

What every implementation promises:

* **Concurrency.** Every method may be called at once from many threads and from many
  processes (or machines) sharing one store. A write is atomic: it happens whole or
  not at all, and a failed write leaves nothing half-written.
* **Compare-and-set.** Writes that can race are conditional in the engine's own
  terms (an SQL update checked by row count, an etcd transaction comparing revisions,
  a Cassandra lightweight transaction): never read-then-write without a check.
* **Generations.** A provider's generation goes up by exactly one with every write
  that changes it, its inventories, traits, aggregates or the allocations against it.
  A consumer's goes up by one with every change to its allocations.
* **Claims never over-allocate.** ``commit`` and ``claim`` leave every provider within
  capacity; losing a race is a ``ClaimConflict`` value, not an exception.
* **Errors.** Bad input raises ``InvalidInput``/``NotFound`` and writes nothing; a
  stale generation raises ``GenerationConflict``; an unreachable or broken engine
  raises ``StoreUnavailable``/``StoreCorrupt``. Driver exceptions never leave the
  backend (translated once, with ``raise ... from``).
* **Idempotence.** ``ensure_*`` may be repeated. Nothing else is idempotent by itself:
  generations make a repeated write fail instead of applying twice; a backend that
  retries internally after an unknown outcome must recognise its own earlier write.

Input is validated here, once, in the public methods; a backend implements only the
``_``-prefixed engine operations and receives checked, normalized values.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from berthing.model import (
    STANDARD_RESOURCE_CLASSES,
    STANDARD_TRAITS,
    AllocationChange,
    Allocations,
    ClaimResult,
    Consumer,
    ConsumerAllocations,
    InvalidInput,
    Inventory,
    Provider,
    ProviderQuery,
    ProviderState,
    StoreShape,
    TypeUsage,
    is_custom,
    new_uuid,
    validate_allocations,
    validate_resource_class,
    validate_trait,
    validate_uuid,
)

__all__ = ["MAX_NAME", "NewParent", "ResourceStore"]

#: Placement's limit on provider names.
MAX_NAME = 200


@dataclass(frozen=True, slots=True)
class NewParent:
    """Where ``update_provider`` moves a provider: under ``uuid``, or a root if None."""

    uuid: str | None


class ResourceStore(ABC):
    """Providers, inventories, traits, aggregates, consumers and their allocations."""

    # -- resource classes and traits ----------------------------------------------------

    def ensure_resource_class(self, name: str) -> bool:
        """Create a ``CUSTOM_*`` class if missing; True if this call created it."""
        return self._ensure_name("class", _custom(validate_resource_class(name)))

    def ensure_trait(self, name: str) -> bool:
        """Create a ``CUSTOM_*`` trait if missing; True if this call created it."""
        return self._ensure_name("trait", _custom(validate_trait(name)))

    def list_resource_classes(self) -> list[str]:
        """Standard and custom classes, sorted."""
        return sorted({*STANDARD_RESOURCE_CLASSES, *self._custom_names("class")})

    def list_traits(self) -> list[str]:
        """Standard and custom traits, sorted."""
        return sorted({*STANDARD_TRAITS, *self._custom_names("trait")})

    def delete_resource_class(self, name: str) -> None:
        """Delete a custom class. ``InUse`` if any inventory uses it; ``NotFound`` if absent."""
        self._delete_name("class", _deletable(validate_resource_class(name), "resource class"))

    def rename_resource_class(self, old: str, new: str) -> None:
        """Rename a custom class nothing uses yet (Placement 1.2-1.6's PUT). Placement
        renames classes in use too; berthing refuses (``InUse``), because the name is
        written into every allocation that uses it on the replicated backends."""
        self._rename_class(
            _deletable(validate_resource_class(old), "resource class"),
            _custom(validate_resource_class(new)),
        )

    def delete_trait(self, name: str) -> None:
        """Delete a custom trait. ``InUse`` if any provider has it; ``NotFound`` if absent."""
        self._delete_name("trait", _deletable(validate_trait(name), "trait"))

    # -- providers ----------------------------------------------------------------------

    def create_provider(
        self, name: str, uuid: str | None = None, parent_uuid: str | None = None
    ) -> Provider:
        """Create a provider at generation 0. ``DuplicateName`` if the name or uuid is
        taken; ``InvalidInput`` if the parent does not exist."""
        puuid = validate_uuid(uuid) if uuid is not None else new_uuid()
        parent = validate_uuid(parent_uuid, "parent uuid") if parent_uuid is not None else None
        return self._create_provider(_provider_name(name), puuid, parent)

    def update_provider(
        self, uuid: str, *, name: str | None = None, parent: NewParent | None = None
    ) -> Provider:
        """Rename (``DuplicateName`` if taken) and/or move the provider with its whole
        subtree under ``parent.uuid`` (None: make it a root). Moving under itself or
        its own descendant, or under a provider that does not exist, is
        ``InvalidInput``. Generations do not change: nothing allocatable did."""
        new_name = None if name is None else _provider_name(name)
        if parent is not None and parent.uuid is not None:
            parent = NewParent(validate_uuid(parent.uuid, "parent uuid"))
            if parent.uuid == uuid:
                raise InvalidInput(f"Provider {uuid} cannot be its own parent.")
        return self._update_provider(uuid, new_name, parent)

    def get_provider(self, uuid: str) -> Provider:
        """``ProviderNotFound`` if absent."""
        return self.get_provider_state(uuid).provider

    @abstractmethod
    def get_provider_state(self, uuid: str) -> ProviderState:
        """The provider with its inventories and usages, read as one snapshot.
        ``ProviderNotFound`` if absent."""

    @abstractmethod
    def delete_provider(self, uuid: str) -> None:
        """``InUse`` if it has allocations or child providers; ``ProviderNotFound``."""

    def set_inventories(
        self,
        uuid: str,
        generation: int,
        inventories: Mapping[str, Inventory],
        *,
        below_use: bool = False,
    ) -> Provider:
        """Replace all inventories if the provider is still at ``generation``.

        ``GenerationConflict`` if it moved on; ``InUse`` if a class with allocations
        would be removed, or its capacity would drop below what is allocated (allowed
        with ``below_use``, as Placement allows it: a host that lost memory keeps its
        instances, and no new claim fits until usage drops); ``ResourceClassNotFound``
        for an unknown custom class.
        """
        for rc, inv in inventories.items():
            validate_resource_class(rc)
            if not isinstance(inv, Inventory):
                raise InvalidInput(f"Inventory for {rc} must be an Inventory, got {inv!r}.")
        return self._set_inventories(uuid, generation, dict(inventories), below_use)

    def set_traits(self, uuid: str, generation: int, traits: Iterable[str]) -> Provider:
        """Replace all traits under a generation check; unknown traits: ``TraitNotFound``."""
        return self._set_traits(uuid, generation, sorted({validate_trait(t) for t in traits}))

    def set_aggregates(
        self, uuid: str, generation: int, aggregates: Iterable[str], *, bump: bool = True
    ) -> Provider:
        """Replace all aggregate memberships under a generation check. ``bump=False``
        leaves the generation as it is, as Placement did before microversion 1.19."""
        aggs = sorted({validate_uuid(a, "aggregate uuid") for a in aggregates})
        return self._set_aggregates(uuid, generation, aggs, bump)

    @abstractmethod
    def shape(self) -> StoreShape:
        """Whether any provider has a parent, and whether any shares via aggregate; as
        current as ``find_providers`` (a store sees its own writes). Cheap: asked once
        per candidate request."""

    @abstractmethod
    def find_providers(self, query: ProviderQuery) -> list[ProviderState]:
        """Providers that satisfy every filter of ``query``, with their state.

        Without ``query.limit`` the order is stable (creation order). With a limit and a
        seed the backend starts at a seed-chosen point of a fixed random order, so that
        parallel schedulers look at different slices. Unknown classes or traits in the
        query raise ``NotFound``. The result may be slightly stale on backends that
        answer from an index (docs say how stale); a claim is what makes a choice true.
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
        not exist yet). Allocations the consumer already held are replaced in the same
        write (a resize). Returns the consumer at its new generation, or a
        ``ClaimConflict`` naming what lost.
        """
        if not allocations:
            raise InvalidInput(
                "A claim needs at least one allocation.", hint="Use release() to free a consumer."
            )
        change = AllocationChange(
            (ConsumerAllocations(consumer, allocations),), dict(provider_generations or {})
        )
        return self.commit(change)

    def commit(self, change: AllocationChange) -> ClaimResult:
        """Apply every part of ``change`` in one atomic write, or none of it.

        The general form of ``claim``: several consumers at once (Placement's POST
        /allocations), removals (empty allocations), and inventories replaced together
        with allocations (the reshaper). The decision rules are ``store.decide``'s.
        """
        return self._commit(_validated(change))

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
    def usages(self, project_id: str, user_id: str | None = None) -> list[TypeUsage]:
        """What a project's (and user's, if given) consumers hold, per consumer type."""

    # -- what a backend implements ----------------------------------------------------

    @abstractmethod
    def _ensure_name(self, kind: str, name: str) -> bool:
        """Insert custom name ``name`` of ``kind`` ("class" or "trait") if absent."""

    @abstractmethod
    def _custom_names(self, kind: str) -> list[str]:
        """The custom names of ``kind`` that exist."""

    @abstractmethod
    def _delete_name(self, kind: str, name: str) -> None:
        """Delete a custom name; ``InUse`` if used, ``ResourceClassNotFound`` or
        ``TraitNotFound`` if absent."""

    @abstractmethod
    def _create_provider(self, name: str, uuid: str, parent_uuid: str | None) -> Provider:
        """Insert the provider (checked name and uuids) under a uniqueness check."""

    @abstractmethod
    def _update_provider(self, uuid: str, name: str | None, parent: NewParent | None) -> Provider:
        """Rename under the name's uniqueness check; move the subtree (every provider
        under ``uuid`` gets the new root) refusing loops, in one write."""

    @abstractmethod
    def _set_inventories(
        self, uuid: str, generation: int, inventories: dict[str, Inventory], below_use: bool
    ) -> Provider:
        """Replace inventories; refuse a shrink with ``model.refuse_shrink_below_use`` on
        the usage read in the same write."""

    @abstractmethod
    def _set_traits(self, uuid: str, generation: int, traits: list[str]) -> Provider: ...

    @abstractmethod
    def _set_aggregates(
        self, uuid: str, generation: int, aggregates: list[str], bump: bool
    ) -> Provider: ...

    @abstractmethod
    def _rename_class(self, old: str, new: str) -> None:
        """Rename an unused custom class in one write: ``ResourceClassNotFound`` if
        ``old`` is absent, ``DuplicateName`` if ``new`` exists, ``InUse`` if used."""

    @abstractmethod
    def _commit(self, change: AllocationChange) -> ClaimResult:
        """Read a snapshot, ``store.decide.decide`` on it, write the decision with the
        engine's compare-and-set."""


def _custom(name: str) -> str:
    if not is_custom(name):
        raise InvalidInput(
            f"{name} is a standard name; only CUSTOM_* names can be created.",
            hint="Standard names exist already and can be used as they are.",
        )
    return name


def _deletable(name: str, what: str) -> str:
    if not is_custom(name):
        raise InvalidInput(f"Standard {what} {name} cannot be deleted.")
    return name


def _provider_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise InvalidInput(f"Provider name must be 1 to {MAX_NAME} characters, got {name!r}.")
    return name


def _validated(change: AllocationChange) -> AllocationChange:
    if not change.consumers and not change.inventories:
        raise InvalidInput("An allocation change names no consumer and no inventory.")
    seen: set[str] = set()
    consumers = []
    for ca in change.consumers:
        uuid = validate_uuid(ca.consumer.uuid, "consumer uuid")
        if uuid in seen:
            raise InvalidInput(f"Consumer {uuid} appears twice in one allocation change.")
        seen.add(uuid)
        allocs = validate_allocations(ca.allocations)
        consumers.append(ConsumerAllocations(ca.consumer, allocs, ca.check_generation))
    for p, invs in change.inventories.items():
        validate_uuid(p, "provider uuid")
        for rc, inv in invs.items():
            validate_resource_class(rc)
            if not isinstance(inv, Inventory):
                raise InvalidInput(f"Inventory for {rc} must be an Inventory, got {inv!r}.")
    return AllocationChange(tuple(consumers), dict(change.provider_generations), change.inventories)
