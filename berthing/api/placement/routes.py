"""Every Placement route: path, methods, the version each appeared in, the policy rule.

The handlers are plain functions ``Call -> Reply``; the order of checks around them
lives in ``core``.
"""

from __future__ import annotations

from berthing.api.http import Route
from berthing.api.placement import (
    aggregates,
    allocations,
    candidates,
    classes,
    inventories,
    providers,
    reshaper,
    traits,
    usages,
)
from berthing.api.placement.core import Handler

__all__ = ["ROUTES"]

_RP = "placement:resource_providers"
_INV = f"{_RP}:inventories"
_ALLOC = "placement:allocations"

ROUTES: list[Route[Handler]] = [
    Route(
        "/allocation_candidates",
        {
            "GET": Handler(
                candidates.list_candidates, "placement:allocation_candidates:list", since="1.10"
            )
        },
    ),
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
            "GET": Handler(inventories.list_inventories, f"{_INV}:list"),
            "POST": Handler(inventories.create, f"{_INV}:create"),
            "PUT": Handler(inventories.replace_all, f"{_INV}:update"),
            # Before 1.5 this method did not exist on the route: 405, without Allow.
            "DELETE": Handler(inventories.delete_all, f"{_INV}:delete", "1.5", below_version=405),
        },
    ),
    Route(
        "/resource_providers/{uuid}/inventories/{resource_class}",
        {
            "GET": Handler(inventories.show, f"{_INV}:show"),
            "PUT": Handler(inventories.update, f"{_INV}:update"),
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
        {"POST": Handler(allocations.replace_many, f"{_ALLOC}:manage", "1.13")},
    ),
    Route(
        "/allocations/{consumer_uuid}",
        {
            "GET": Handler(allocations.show, f"{_ALLOC}:list"),
            "PUT": Handler(allocations.replace, f"{_ALLOC}:update"),
            "DELETE": Handler(allocations.delete, f"{_ALLOC}:delete"),
        },
    ),
    Route("/usages", {"GET": Handler(usages.for_project, "placement:usages", "1.9")}),
    Route("/reshaper", {"POST": Handler(reshaper.reshape, "placement:reshaper:reshape", "1.30")}),
    Route(
        "/resource_providers/{uuid}/aggregates",
        {
            "GET": Handler(aggregates.list_aggregates, f"{_RP}:aggregates:list", "1.1"),
            "PUT": Handler(aggregates.replace, f"{_RP}:aggregates:update", "1.1"),
        },
    ),
    Route(
        "/resource_providers/{uuid}/traits",
        {
            "GET": Handler(traits.provider_traits, f"{_RP}:traits:list", "1.6"),
            "PUT": Handler(traits.set_provider_traits, f"{_RP}:traits:update", "1.6"),
            "DELETE": Handler(traits.delete_provider_traits, f"{_RP}:traits:delete", "1.6"),
        },
    ),
    Route(
        "/resource_classes",
        {
            "GET": Handler(classes.list_classes, "placement:resource_classes:list", "1.2"),
            "POST": Handler(classes.create, "placement:resource_classes:create", "1.2"),
        },
    ),
    Route(
        "/resource_classes/{name}",
        {
            "GET": Handler(classes.show, "placement:resource_classes:show", "1.2"),
            "PUT": Handler(classes.put, "placement:resource_classes:update", "1.2"),
            "DELETE": Handler(classes.delete, "placement:resource_classes:delete", "1.2"),
        },
    ),
    Route("/traits", {"GET": Handler(traits.list_traits, "placement:traits:list", "1.6")}),
    Route(
        "/traits/{name}",
        {
            "GET": Handler(traits.show, "placement:traits:show", "1.6"),
            "PUT": Handler(traits.put, "placement:traits:update", "1.6"),
            "DELETE": Handler(traits.delete, "placement:traits:delete", "1.6"),
        },
    ),
]
