"""OpenStack Placement's HTTP API, microversions 1.0 to 1.39, on any berthing store."""

from berthing.api.placement.app import PlacementSettings, placement_app

__all__ = ["PlacementSettings", "placement_app"]
