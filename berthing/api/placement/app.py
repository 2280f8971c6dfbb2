"""Assemble the Placement application from the settings of one server."""

from __future__ import annotations

from dataclasses import dataclass

from berthing.api.auth import Authenticator
from berthing.api.placement.core import PlacementApp
from berthing.api.placement.root import root
from berthing.api.placement.routes import ROUTES
from berthing.api.policy import Policy
from berthing.store import Store

__all__ = ["PlacementSettings", "placement_app"]


@dataclass(frozen=True, slots=True)
class PlacementSettings:
    max_candidates_per_tree: int = 1000
    randomize_candidates: bool = True
    """Spread candidates across the cloud (Placement hands every caller the same first
    N); with ``candidate_seed`` set, reproducibly."""
    candidate_seed: int | None = None


def placement_app(
    store: Store, auth: Authenticator, policy: Policy, settings: PlacementSettings | None = None
) -> PlacementApp:
    return PlacementApp(
        ROUTES,
        root,
        store=store,
        source=store,
        auth=auth,
        policy=policy,
        settings=settings or PlacementSettings(),
    )
