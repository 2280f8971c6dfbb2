"""Every Placement route: path, methods, the version each appeared in, the policy rule.

The handlers are plain functions ``Call -> Reply``; the order of checks around them
lives in ``core``.
"""

from __future__ import annotations

from berthing.api.placement import candidates, providers
from berthing.api.placement.core import Handler, Route
from berthing.api.placement.setup_routes import SETUP_ROUTES

__all__ = ["ROUTES"]

_RP = "placement:resource_providers"

ROUTES: list[Route] = [
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
]
# The writes the candidate spec files set up with, until placement-allocs is merged.
ROUTES += SETUP_ROUTES
