"""Every Placement route: path, methods, the version each appeared in, the policy rule.

The handlers are plain functions ``Call -> Reply``; the order of checks around them
lives in ``core``.
"""

from __future__ import annotations

from berthing.api.placement import (
    aggregates,
    allocations,
    inventories,
    providers,
    reshaper,
    resource_classes,
    traits,
    usages,
)
from berthing.api.placement.core import Handler, Route

__all__ = ["ROUTES"]

_RP = "placement:resource_providers"
_INV = f"{_RP}:inventories"
_ALLOC = "placement:allocations"
_RC = "placement:resource_classes"
_TRAITS = "placement:traits"

ROUTES: list[Route] = [
    Route(
        "/resource_providers",
        {
            "GET": Handler(providers.list_providers, f"{_RP}:list"),
            "POST": Handler(providers.create, f"{_RP}:create"),
        },
    ),
    Route(
        "/resource_providers/{uuid}",
        {
            "GET": Handler(providers.show, f"{_RP}:show"),
            "PUT": Handler(providers.update, f"{_RP}:update"),
            "DELETE": Handler(providers.delete, f"{_RP}:delete"),
        },
    ),
    Route(
        "/resource_providers/{uuid}/inventories",
        {
            "GET": Handler(inventories.list_all, f"{_INV}:list"),
            "PUT": Handler(inventories.replace_all, f"{_INV}:update"),
            "POST": Handler(inventories.create, f"{_INV}:create"),
            "DELETE": Handler(
                inventories.delete_all, f"{_INV}:delete", since="1.5", below_version=405
            ),
        },
    ),
    Route(
        "/resource_providers/{uuid}/inventories/{resource_class}",
        {
            "GET": Handler(inventories.show, f"{_INV}:show"),
            "PUT": Handler(inventories.replace, f"{_INV}:update"),
            "DELETE": Handler(inventories.delete, f"{_INV}:delete"),
        },
    ),
    Route(
        "/resource_providers/{uuid}/usages",
        {"GET": Handler(usages.for_provider, f"{_RP}:usages")},
    ),
    Route(
        "/resource_providers/{uuid}/allocations",
        {"GET": Handler(allocations.for_provider, f"{_RP}:allocations:list")},
    ),
    Route(
        "/allocations",
        {"POST": Handler(allocations.replace_many, f"{_ALLOC}:manage", since="1.13")},
    ),
    Route(
        "/allocations/{consumer_uuid}",
        {
            "GET": Handler(allocations.show, f"{_ALLOC}:list"),
            "PUT": Handler(allocations.replace, f"{_ALLOC}:update"),
            "DELETE": Handler(allocations.delete, f"{_ALLOC}:delete"),
        },
    ),
    Route("/usages", {"GET": Handler(usages.for_project, "placement:usages", since="1.9")}),
    Route(
        "/reshaper",
        {"POST": Handler(reshaper.reshape, "placement:reshaper:reshape", since="1.30")},
    ),
    Route(
        "/resource_providers/{uuid}/aggregates",
        {
            "GET": Handler(aggregates.list_for_provider, f"{_RP}:aggregates:list", since="1.1"),
            "PUT": Handler(aggregates.set_for_provider, f"{_RP}:aggregates:update", since="1.1"),
        },
    ),
    Route(
        "/resource_providers/{uuid}/traits",
        {
            "GET": Handler(traits.list_for_provider, f"{_RP}:traits:list", since="1.6"),
            "PUT": Handler(traits.set_for_provider, f"{_RP}:traits:update", since="1.6"),
            "DELETE": Handler(traits.delete_for_provider, f"{_RP}:traits:delete", since="1.6"),
        },
    ),
    Route(
        "/resource_classes",
        {
            "GET": Handler(resource_classes.list_all, f"{_RC}:list", since="1.2"),
            "POST": Handler(resource_classes.create, f"{_RC}:create", since="1.2"),
        },
    ),
    Route(
        "/resource_classes/{name}",
        {
            "GET": Handler(resource_classes.show, f"{_RC}:show", since="1.2"),
            "PUT": Handler(resource_classes.update, f"{_RC}:update", since="1.2"),
            "DELETE": Handler(resource_classes.delete, f"{_RC}:delete", since="1.2"),
        },
    ),
    Route("/traits", {"GET": Handler(traits.list_all, f"{_TRAITS}:list", since="1.6")}),
    Route(
        "/traits/{name}",
        {
            "GET": Handler(traits.check, f"{_TRAITS}:show", since="1.6"),
            "PUT": Handler(traits.ensure, f"{_TRAITS}:update", since="1.6"),
            "DELETE": Handler(traits.delete, f"{_TRAITS}:delete", since="1.6"),
        },
    ),
]
