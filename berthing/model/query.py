"""What the scheduler asks the store: which providers fit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from berthing.model.errors import InvalidInput
from berthing.model.inventory import validate_amount
from berthing.model.names import validate_trait_sets
from berthing.model.provider import ProviderState, validate_uuid

__all__ = ["ProviderQuery"]


@dataclass(frozen=True, slots=True)
class ProviderQuery:
    """Filters a backend evaluates itself, on its own indexes.

    ``resources``: every class must be available in that amount on the provider itself.
    ``required_traits``: all of them; ``any_traits``: at least one of each set;
    ``forbidden_traits``: none of them.
    ``member_of``: all-of a list of any-of sets of aggregate uuids;
    ``forbidden_aggregates``: in none of them.
    ``in_tree``: in the tree of that provider; ``roots``: in the tree of one of them.
    ``fresh``: answered from the engine itself, not from an index that may lag a
    moment behind other writers (a backend that keeps no index ignores it): for audits.
    ``limit`` with ``seed``: return at most ``limit`` fitting providers, starting at a
    pseudo-random point chosen by ``seed``, so that parallel schedulers asking the
    same question look at different slices of the cloud and collide less often.
    """

    resources: Mapping[str, int] = field(default_factory=dict)
    required_traits: frozenset[str] = frozenset()
    forbidden_traits: frozenset[str] = frozenset()
    any_traits: tuple[frozenset[str], ...] = ()
    member_of: tuple[frozenset[str], ...] = ()
    forbidden_aggregates: frozenset[str] = frozenset()
    in_tree: str | None = None
    roots: frozenset[str] | None = None
    name: str | None = None
    uuids: frozenset[str] | None = None
    limit: int | None = None
    seed: int | None = None
    fresh: bool = False

    def __post_init__(self) -> None:
        for rc, amount in self.resources.items():
            validate_amount(rc, amount)
        validate_trait_sets(
            self.required_traits | {t for g in self.any_traits for t in g}, self.forbidden_traits
        )
        if not all(self.any_traits):
            raise InvalidInput("A set of alternative traits is empty.")
        for group in (*self.member_of, self.forbidden_aggregates):
            for agg in group:
                validate_uuid(agg, "aggregate uuid")
        if not all(self.member_of):
            raise InvalidInput("member_of contains an empty aggregate group.")
        if self.in_tree is not None:
            validate_uuid(self.in_tree, "in_tree")
        if self.limit is not None and self.limit < 1:
            raise InvalidInput(f"limit must be at least 1, got {self.limit}.")

    @property
    def trait_names(self) -> frozenset[str]:
        """Every trait the query names: each must exist."""
        return (
            self.required_traits | self.forbidden_traits | {t for g in self.any_traits for t in g}
        )

    def matches(self, state: ProviderState, tree_root: str | None = None) -> bool:
        """Evaluate every filter in memory (``in_tree`` as the root uuid of its tree):
        for backends answering from a local index, and the classic scheduler's cache."""
        p = state.provider
        return (
            (self.name is None or p.name == self.name)
            and (self.uuids is None or p.uuid in self.uuids)
            and (tree_root is None or p.root_uuid == tree_root)
            and (self.roots is None or p.root_uuid in self.roots)
            and self.required_traits <= p.traits
            and not self.forbidden_traits & p.traits
            and all(group & p.traits for group in self.any_traits)
            and all(group & p.aggregates for group in self.member_of)
            and not self.forbidden_aggregates & p.aggregates
            and state.fits(self.resources)
        )
