"""The one exception tree of berthing.

Every error names what is wrong and says what to do next. Each carries a stable
``code`` (the Placement error code where Placement has one) so that the API maps
errors to HTTP in one place instead of a ladder of ``except`` clauses per handler::

    BerthingError
    ├── InvalidInput            bad names, amounts or inventories (HTTP 400)
    ├── NotFound                unknown provider, consumer, class (HTTP 404)
    ├── Conflict                generation mismatch, in-use, duplicate (HTTP 409)
    │   └── InUse               ProviderInUse, ProviderHasChildren
    └── StoreError              the store itself failed (HTTP 503)
        ├── StoreUnavailable    cannot reach or write the store
        └── StoreCorrupt        the store's data is not what berthing wrote

A lost claim race is *not* an exception: ``Store.claim`` returns a
``ClaimConflict`` value so that the scheduler can move to the next candidate cheaply.
"""

from __future__ import annotations

__all__ = [
    "BerthingError",
    "Conflict",
    "ConsumerNotFound",
    "DuplicateName",
    "GenerationConflict",
    "InUse",
    "InvalidInput",
    "NotFound",
    "ProviderHasChildren",
    "ProviderInUse",
    "ProviderNotFound",
    "ResourceClassNotFound",
    "StoreCorrupt",
    "StoreError",
    "StoreUnavailable",
    "TraitNotFound",
]


class BerthingError(Exception):
    """Base of all berthing errors: a message for people and a stable code for programs."""

    code = "berthing.error"
    http_status = 500

    def __init__(self, message: str, *, hint: str = "") -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message} {hint}".strip())


class InvalidInput(BerthingError, ValueError):
    code = "berthing.invalid_input"
    http_status = 400


class NotFound(BerthingError, LookupError):
    code = "berthing.not_found"
    http_status = 404


class ProviderNotFound(NotFound):
    code = "berthing.provider.not_found"

    def __init__(self, uuid: str) -> None:
        self.uuid = uuid
        super().__init__(
            f"No resource provider with uuid {uuid} found.",
            hint="List providers to find the right uuid, or create the provider first.",
        )


class ConsumerNotFound(NotFound):
    code = "berthing.consumer.not_found"

    def __init__(self, uuid: str) -> None:
        self.uuid = uuid
        super().__init__(
            f"No consumer with uuid {uuid}.",
            hint="It may have been released already; nothing holds resources for it.",
        )


class ResourceClassNotFound(NotFound):
    code = "berthing.resource_class.not_found"

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"No such resource class {name}.",
            hint="Use a standard class or create the CUSTOM_* class first.",
        )


class TraitNotFound(NotFound):
    code = "berthing.trait.not_found"

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"No such trait(s): {name}.",
            hint="Use a standard trait or create the CUSTOM_* trait first.",
        )


class Conflict(BerthingError):
    code = "berthing.conflict"
    http_status = 409


class GenerationConflict(Conflict):
    """Someone else changed the provider (or consumer) since the caller read it."""

    code = "placement.concurrent_update"

    def __init__(self, what: str, uuid: str, expected: int | None, actual: int | None) -> None:
        self.uuid = uuid
        self.expected = expected
        self.actual = actual
        # The first sentence is Placement's, word for word (clients and runbooks know it).
        super().__init__(
            f"{what}'s generation already changed. Please update the generation and try " "again.",
            hint=f"{what} {uuid} is at generation {actual}, not {expected}.",
        )


class InUse(Conflict):
    """A delete or shrink would orphan allocations."""

    code = "placement.inventory.inuse"

    @classmethod
    def name(cls, kind: str, name: str) -> InUse:
        """A resource class (``kind`` "class") or trait still in use; Placement's words."""
        if kind == "class":
            return cls(
                f"Unable to delete resource class {name}. Error: Cannot delete resource "
                f"class {name}. Class is in use in inventory.",
                hint="Remove it from those inventories first.",
            )
        return cls(
            f"The trait {name} is in use by a resource provider.",
            hint="Remove it from those providers first.",
        )


class ProviderInUse(InUse):
    """A provider with allocations cannot be deleted."""

    code = "placement.resource_provider.inuse"

    def __init__(self, uuid: str) -> None:
        super().__init__(
            f"Unable to delete resource provider {uuid}: Resource provider has allocations.",
            hint="Release or move its consumers first.",
        )


class ProviderHasChildren(InUse):
    """A provider with child providers cannot be deleted; checked before allocations,
    as Placement does."""

    code = "placement.resource_provider.cannot_delete_parent"

    def __init__(self, uuid: str) -> None:
        super().__init__(
            f"Unable to delete parent resource provider {uuid}: It has child resource "
            "providers.",
            hint="Delete its children first.",
        )


class DuplicateName(Conflict):
    code = "placement.duplicate_name"

    @classmethod
    def provider(cls, column: str, value: str) -> DuplicateName:
        """A new provider's name or uuid is taken. Nova matches the words
        "Conflicting resource provider name:" in this message: keep them."""
        return cls(
            f"Conflicting resource provider {column}: {value} already exists.",
            hint="Pick another name, or update the existing provider.",
        )

    @classmethod
    def rename(cls, name: str) -> DuplicateName:
        return cls(
            f"Conflicting resource provider {name} already exists.", hint="Pick another name."
        )


class StoreError(BerthingError):
    code = "berthing.store"
    http_status = 503


class StoreUnavailable(StoreError):
    code = "berthing.store.unavailable"


class StoreCorrupt(StoreError):
    code = "berthing.store.corrupt"
