"""Assemble the Placement application from the settings of one server."""

from __future__ import annotations

from dataclasses import dataclass, field

from berthing.api.auth import Authenticator
from berthing.api.placement.candidates import SeedStream
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
    seeds: SeedStream = field(init=False, repr=False, compare=False)
    """Each candidate request's start in the shuffled order, from the two above."""

    def __post_init__(self) -> None:
        # A frozen dataclass sets a derived field this way.
        object.__setattr__(
            self, "seeds", SeedStream(self.randomize_candidates, self.candidate_seed)
        )


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
