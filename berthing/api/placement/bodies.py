"""Request bodies of the allocation routes, typed, and what each microversion allows.

One Struct per shape; the fields a version adds are ``UNSET`` when absent, and
``check_consumer`` says, naming the field and the version, what a request may not send
or must send at its version (Placement picks a JSON schema per version range; the
rules are the same). Names and amounts are checked by the model's validators, whose
messages name the bad value.

=========  ==============================================================================
1.0-1.7    ``{"allocations": [{"resource_provider": {"uuid"}, "resources"}]}``
1.8-1.11   the same, with ``project_id`` and ``user_id`` required
1.12       ``{"allocations": {rp: {"resources", "generation"?}}, "project_id", "user_id"}``
1.28       ``consumer_generation`` required (null: a new consumer); ``{}`` deletes
1.34       ``mappings`` accepted (request group -> providers), not stored
1.38       ``consumer_type`` required (``[A-Z0-9_]+``)
=========  ==============================================================================
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from berthing.api.errors import ApiError
from berthing.api.placement.microversion import Version
from berthing.model import InvalidInput, validate_allocations, validate_uuid

__all__ = [
    "INCOMPLETE_CONSUMER",
    "ConsumerBody",
    "ListBody",
    "ProviderAllocation",
    "check_consumer",
    "list_allocations",
    "provider_allocations",
]

#: Placement's project and user of consumers written before 1.8, which name neither
#: (its ``incomplete_consumer_project_id``/``user_id`` defaults).
INCOMPLETE_CONSUMER = "00000000-0000-0000-0000-000000000000"

ExternalId = Annotated[str, Meta(min_length=1, max_length=255)]
ConsumerType = Annotated[str, Meta(pattern="^[A-Z0-9_]+$", max_length=255)]
Providers = Annotated[list[str], Meta(min_length=1)]


class ProviderRef(msgspec.Struct, forbid_unknown_fields=True):
    uuid: str


class ListItem(msgspec.Struct, forbid_unknown_fields=True):
    resource_provider: ProviderRef
    resources: dict[str, int]


class ListBody(msgspec.Struct, forbid_unknown_fields=True):
    """``PUT /allocations/{consumer}`` from 1.0 to 1.11."""

    allocations: Annotated[list[ListItem], Meta(min_length=1)]
    project_id: ExternalId | UnsetType = UNSET
    user_id: ExternalId | UnsetType = UNSET


class ProviderAllocation(msgspec.Struct, forbid_unknown_fields=True):
    resources: dict[str, int]
    generation: int | UnsetType = UNSET
    """The provider's generation: accepted and ignored, as Placement does."""


class ConsumerBody(msgspec.Struct, forbid_unknown_fields=True):
    """One consumer's allocations in the dict form (1.12+): the body of ``PUT
    /allocations/{consumer}``, and one value of ``POST /allocations`` and of the
    reshaper's ``allocations``."""

    allocations: dict[str, ProviderAllocation]
    project_id: ExternalId
    user_id: ExternalId
    consumer_generation: int | None | UnsetType = UNSET
    mappings: dict[str, Providers] | UnsetType = UNSET
    consumer_type: ConsumerType | UnsetType = UNSET


def check_consumer(body: ConsumerBody, version: Version, where: str, *, may_empty: bool) -> None:
    """400 for a field the version does not have or lacks; ``may_empty``: an empty
    ``allocations`` object removes the consumer's allocations (always in POST and the
    reshaper, from 1.28 in PUT)."""
    _versioned(body.consumer_generation, "consumer_generation", "1.28", version, where)
    _versioned(body.consumer_type, "consumer_type", "1.38", version, where)
    if body.mappings is not UNSET:
        if not version.at_least("1.34"):
            raise ApiError(400, f"{where}mappings needs microversion 1.34.")
        for providers in body.mappings.values():
            for p in providers:
                validate_uuid(p, f"{where}provider uuid in mappings")
    if not body.allocations and not may_empty:
        raise ApiError(400, f"{where}allocations must name at least one provider.")


def _versioned(value: object, name: str, since: str, version: Version, where: str) -> None:
    if value is UNSET and version.at_least(since):
        raise ApiError(400, f"{where}{name} is required from microversion {since}.")
    if value is not UNSET and not version.at_least(since):
        raise ApiError(400, f"{where}{name} needs microversion {since}.")


def provider_allocations(body: ConsumerBody, where: str = "") -> dict[str, dict[str, int]]:
    """provider -> class -> amount, checked (uuids, class names, amounts >= 1)."""
    try:
        return validate_allocations({p: a.resources for p, a in body.allocations.items()})
    except InvalidInput as exc:
        raise ApiError(400, f"{where}{exc}") from exc


def list_allocations(body: ListBody, version: Version) -> dict[str, dict[str, int]]:
    """The list form as provider -> class -> amount; project and user are required from
    1.8 and refused before."""
    for name, value in (("project_id", body.project_id), ("user_id", body.user_id)):
        _versioned(value, name, "1.8", version, "")
    # A provider named twice keeps its last entry, as in Placement.
    return validate_allocations(
        {item.resource_provider.uuid: item.resources for item in body.allocations}
    )
