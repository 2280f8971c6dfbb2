"""Placement's microversions: one ordered list with a changelog line each, and the
negotiation of the ``OpenStack-API-Version: placement X.Y`` header.

No header means 1.0; ``latest`` means the newest. A version outside the list is 406
(with ``max_version``/``min_version`` in the error, which clients read to negotiate);
a header that is not ``major.minor`` is 400.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["CHANGELOG", "MAX", "MIN", "SERVICE", "Version", "VersionError", "parse_header"]

SERVICE = "placement"

CHANGELOG: tuple[tuple[str, str], ...] = (
    ("1.0", "resource providers, inventories, usages, allocations"),
    ("1.1", "provider aggregates; links to them"),
    ("1.2", "custom resource classes"),
    ("1.3", "member_of=in: on GET /resource_providers"),
    ("1.4", "resources= filter on GET /resource_providers"),
    ("1.5", "DELETE all of a provider's inventories"),
    ("1.6", "traits and provider traits"),
    ("1.7", "PUT /resource_classes/{name} creates or verifies, no body"),
    ("1.8", "project_id and user_id required in PUT /allocations"),
    ("1.9", "GET /usages per project and user"),
    ("1.10", "GET /allocation_candidates"),
    ("1.11", "links to a provider's allocations"),
    ("1.12", "allocations as a dict keyed by provider; project/user in GET"),
    ("1.13", "POST /allocations: many consumers at once"),
    ("1.14", "nested providers: parent_provider_uuid, root_provider_uuid, in_tree"),
    ("1.15", "last-modified and cache-control headers"),
    ("1.16", "limit on allocation candidates"),
    ("1.17", "required traits in allocation candidates; traits in summaries"),
    ("1.18", "required traits on GET /resource_providers"),
    ("1.19", "aggregates with the provider generation"),
    ("1.20", "POST /resource_providers returns the provider"),
    ("1.21", "member_of on allocation candidates"),
    ("1.22", "forbidden traits (!TRAIT)"),
    ("1.23", "a code in every error"),
    ("1.24", "repeated member_of means all of them"),
    ("1.25", "granular request groups and group_policy"),
    ("1.26", "inventory with reserved equal to total"),
    ("1.27", "all resource classes in provider summaries"),
    ("1.28", "consumer generations"),
    ("1.29", "candidates spread over a tree; parent and root in summaries"),
    ("1.30", "POST /reshaper"),
    ("1.31", "in_tree on allocation candidates"),
    ("1.32", "forbidden aggregates (member_of=!...)"),
    ("1.33", "string suffixes for request groups"),
    ("1.34", "mappings of request groups in allocation requests"),
    ("1.35", "root_required on allocation candidates"),
    ("1.36", "same_subtree and resourceless request groups"),
    ("1.37", "re-parenting and un-parenting providers"),
    ("1.38", "consumer types"),
    ("1.39", "required=in: and repeated required"),
)


@dataclass(frozen=True, order=True, slots=True)
class Version:
    major: int
    minor: int

    @classmethod
    def of(cls, text: str) -> Version:
        major, minor = text.split(".")
        return cls(int(major), int(minor))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    def at_least(self, text: str) -> bool:
        return self >= Version.of(text)


MIN = Version.of(CHANGELOG[0][0])
MAX = Version.of(CHANGELOG[-1][0])
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)$")


class VersionError(Exception):
    """A header the server cannot serve: ``status`` 400 (malformed) or 406 (unknown)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def parse_header(header: str | None) -> Version:
    """The version a request asks for; the header may name several services."""
    wanted = _placement_entry(header)
    if wanted is None:
        return MIN
    if wanted.lower() == "latest":
        return MAX
    match = _VERSION_RE.match(wanted)
    if match is None:
        raise VersionError(400, f"invalid version string: {wanted}")
    version = Version(int(match[1]), int(match[2]))
    if not MIN <= version <= MAX:
        raise VersionError(406, f"Unacceptable version header: {wanted}")
    return version


def _placement_entry(header: str | None) -> str | None:
    """The value after ``placement`` in a ``service X, other Y`` header, if any."""
    for entry in (header or "").split(","):
        service, _, value = entry.strip().partition(" ")
        if service.lower() == SERVICE:
            return value.strip() or "1.0"
    return None
