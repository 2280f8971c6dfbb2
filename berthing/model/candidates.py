"""Allocation candidates: what a request asks of a cloud of provider trees, and the
answers (Placement's request groups, allocation requests and mappings).

A request is a set of **groups**. The unsuffixed group (suffix ``""``) may take each of
its classes from a different provider of one tree, or from a sharing provider next to
it; its traits are judged on the providers that supply it, and its aggregates may be
the tree root's. A suffixed group takes all of its resources from one provider (which
needs its traits and aggregates itself); a resourceless one just names a provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from berthing.model.errors import InvalidInput
from berthing.model.inventory import validate_amount
from berthing.model.names import validate_trait, validate_trait_sets
from berthing.model.provider import ProviderState, validate_uuid

__all__ = ["Candidate", "CandidateRequest", "CandidateResult", "Isolation", "RequestGroup"]


class Isolation(StrEnum):
    """Placement's ``group_policy``: may two suffixed groups share a provider?"""

    NONE = "none"
    ISOLATE = "isolate"


@dataclass(frozen=True, slots=True)
class RequestGroup:
    suffix: str = ""
    resources: Mapping[str, int] = field(default_factory=dict)
    required: frozenset[str] = frozenset()
    any_of: tuple[frozenset[str], ...] = ()
    """Each set: at least one of these traits (``required=in:A,B``)."""
    forbidden: frozenset[str] = frozenset()
    member_of: tuple[frozenset[str], ...] = ()
    forbidden_aggregates: frozenset[str] = frozenset()
    in_tree: str | None = None
    """Only in the tree of this provider (unsuffixed: sharing providers excluded)."""

    def __post_init__(self) -> None:
        for rc, amount in self.resources.items():
            validate_amount(rc, amount, f" in request group {self.suffix!r}")
        validate_trait_sets(self.required | {t for g in self.any_of for t in g}, self.forbidden)
        for agg in (*(a for g in self.member_of for a in g), *self.forbidden_aggregates):
            validate_uuid(agg, "aggregate uuid")

    @property
    def unsuffixed(self) -> bool:
        return self.suffix == ""

    def traits_met_by(self, traits: frozenset[str]) -> bool:
        return (
            self.required <= traits
            and not self.forbidden & traits
            and all(group & traits for group in self.any_of)
        )

    def aggregates_met_by(self, aggregates: frozenset[str]) -> bool:
        return self.member_of_met_by(aggregates) and not self.forbids_any(aggregates)

    def member_of_met_by(self, aggregates: frozenset[str]) -> bool:
        """Every ``member_of`` set has one of ``aggregates``."""
        return all(group & aggregates for group in self.member_of)

    def forbids_any(self, aggregates: frozenset[str]) -> bool:
        return bool(self.forbidden_aggregates & aggregates)


@dataclass(frozen=True, slots=True)
class CandidateRequest:
    groups: tuple[RequestGroup, ...]
    isolation: Isolation = Isolation.NONE
    same_subtree: tuple[frozenset[str], ...] = ()
    """Each set of suffixes: one of their providers is an ancestor of (or is) the rest."""
    root_required: frozenset[str] = frozenset()
    root_forbidden: frozenset[str] = frozenset()
    roots: frozenset[str] | None = None
    """Only trees rooted at one of these (a forced or pinned host)."""
    limit: int | None = None
    seed: int | None = None
    """Where in the cloud's shuffled order to start: the same seed, the same answer."""
    spread_trees: bool = True
    """Multi-provider candidates within a tree (Placement 1.29); False drops them."""

    def __post_init__(self) -> None:
        if not any(g.resources for g in self.groups):
            raise InvalidInput("A candidate request must ask for resources in some group.")
        suffixes = [g.suffix for g in self.groups]
        if len(set(suffixes)) != len(suffixes):
            raise InvalidInput("Two request groups have the same suffix.")
        for trait in self.root_required | self.root_forbidden:
            validate_trait(trait)
        if self.limit is not None and self.limit < 1:
            raise InvalidInput(f"limit must be at least 1, got {self.limit}.")

    @property
    def classes(self) -> set[str]:
        return {rc for g in self.groups for rc in g.resources}


@dataclass(frozen=True, slots=True)
class Candidate:
    """One way to satisfy the request: what to allocate where, and which providers
    serve each group (``mappings``, Placement 1.34)."""

    root: str
    """The tree the candidate is anchored in (a sharing provider alone is its own)."""
    allocations: Mapping[str, Mapping[str, int]]
    mappings: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class CandidateResult:
    candidates: tuple[Candidate, ...]
    providers: Mapping[str, ProviderState]
    """Every provider of every tree (and sharing provider) a candidate uses."""
    trees: Mapping[str, tuple[str, ...]]
    """Root uuid -> the uuids of its tree's providers, for provider summaries."""
