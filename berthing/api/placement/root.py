"""``GET /``: the version document clients negotiate with (no token needed)."""

from __future__ import annotations

from berthing.api.placement.microversion import MAX, MIN, Version

__all__ = ["root"]


def root(version: Version) -> object:
    return {
        "versions": [
            {
                "id": "v1.0",
                "max_version": str(MAX),
                "min_version": str(MIN),
                "status": "CURRENT",
                "links": [{"rel": "self", "href": ""}],
            }
        ]
    }
