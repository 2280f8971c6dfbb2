"""One tree's candidates: each group's options, then a depth-first walk over groups.

The walk adds one group at a time and prunes as soon as a partial choice breaks a rule
(capacity consolidated across groups, isolation), so a wide tree with many groups
(Placement bugs 2070257 and 2126751: 8 children x 8 groups, 16.7M products) costs the
candidates it yields, not the product of every group's options; the caller stops it
after ``limit`` or ``MAX_PER_TREE``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from berthing.model import Candidate, CandidateRequest, Isolation, ProviderState, RequestGroup

__all__ = ["Tree", "tree_candidates"]


@dataclass(frozen=True, slots=True)
class Tree:
    """A root, its providers (root first) and the sharing providers next to it."""

    root: ProviderState
    members: Mapping[str, ProviderState]
    sharing: Mapping[str, ProviderState]

    def provider(self, uuid: str) -> ProviderState:
        return self.members.get(uuid) or self.sharing[uuid]

    def ancestors(self, uuid: str) -> set[str]:
        """``uuid`` and every provider above it in the tree (a sharing provider next
        to the tree is its own subtree: two groups on it are in the same subtree)."""
        found, at = {uuid}, self.members.get(uuid)
        while at is not None:
            found.add(at.provider.uuid)
            at = self.members.get(at.provider.parent_uuid or "")
        return found


# A group's option: provider -> class -> amount, and the providers it maps to.
Option = tuple[Mapping[str, Mapping[str, int]], tuple[str, ...]]


def tree_candidates(tree: Tree, request: CandidateRequest) -> Iterator[Candidate]:
    """Every way ``tree`` (with its sharing providers) satisfies ``request``."""
    root = tree.root.provider
    if request.root_required - root.traits or request.root_forbidden & root.traits:
        return
    options = [list(_group_options(tree, g)) for g in request.groups]
    if not all(options):
        return
    for chosen in _walk(tree, request, options, 0, {}, []):
        yield _candidate(tree, request, chosen)


def _walk(
    tree: Tree,
    request: CandidateRequest,
    options: list[list[Option]],
    depth: int,
    taken: dict[tuple[str, str], int],
    chosen: list[Option],
) -> Iterator[list[Option]]:
    if depth == len(options):
        if _whole_choice_ok(tree, request, chosen):
            yield list(chosen)
        return
    for option in options[depth]:
        if not _fits(tree, option[0], taken) or not _isolated(request, depth, option, chosen):
            continue
        _take(taken, option[0], 1)
        chosen.append(option)
        yield from _walk(tree, request, options, depth + 1, taken, chosen)
        chosen.pop()
        _take(taken, option[0], -1)


def _take(
    taken: dict[tuple[str, str], int], allocs: Mapping[str, Mapping[str, int]], sign: int
) -> None:
    for p, per in allocs.items():
        for rc, n in per.items():
            taken[p, rc] = taken.get((p, rc), 0) + sign * n


def _fits(
    tree: Tree, allocs: Mapping[str, Mapping[str, int]], taken: Mapping[tuple[str, str], int]
) -> bool:
    """Consolidated: what earlier groups took on a provider counts too, against its
    capacity and its max_unit, since the claim writes one amount per provider and class
    (two groups of 1024 on a provider with max_unit 1024 cannot be claimed)."""
    for p, per in allocs.items():
        state = tree.provider(p)
        for rc, n in per.items():
            if not state.fits({rc: taken.get((p, rc), 0) + n}):
                return False
    return True


def _isolated(request: CandidateRequest, depth: int, option: Option, chosen: list[Option]) -> bool:
    """group_policy=isolate: suffixed groups on different providers (the unsuffixed
    group may share with any)."""
    if request.isolation is Isolation.NONE or request.groups[depth].unsuffixed:
        return True
    earlier = zip(request.groups[: len(chosen)], chosen, strict=True)
    used = {p for g, (_, mapped) in earlier if not g.unsuffixed for p in mapped}
    return not used & set(option[1])


def _whole_choice_ok(tree: Tree, request: CandidateRequest, chosen: list[Option]) -> bool:
    mapped = {g.suffix: option[1] for g, option in zip(request.groups, chosen, strict=True)}
    for suffixes in request.same_subtree:
        providers = [p for s in suffixes for p in mapped.get(s, ())]
        if not any(all(a in tree.ancestors(p) for p in providers) for a in providers):
            return False
    if not request.spread_trees:
        in_tree = {p for _, ps in mapped.items() for p in ps if p in tree.members}
        return len(in_tree) <= 1
    return True


def _candidate(tree: Tree, request: CandidateRequest, chosen: list[Option]) -> Candidate:
    allocations: dict[str, dict[str, int]] = {}
    for allocs, _ in chosen:
        for p, per in allocs.items():
            into = allocations.setdefault(p, {})
            for rc, n in per.items():
                into[rc] = into.get(rc, 0) + n
    mappings = {
        g.suffix: tuple(sorted(set(o[1]))) for g, o in zip(request.groups, chosen, strict=True)
    }
    used = {p for ps in mappings.values() for p in ps}
    # A candidate none of whose providers is in the tree stands alone: it belongs to the
    # sharing provider that serves it, not to the tree it was found next to.
    root = tree.root.provider.uuid if used & set(tree.members) else min(used)
    return Candidate(root, allocations, mappings)


# -- a group's options --------------------------------------------------------------------


def _group_options(tree: Tree, group: RequestGroup) -> Iterator[Option]:
    if group.unsuffixed:
        yield from _spread_options(tree, group)
    else:
        for p in _single_providers(tree, group):
            yield (
                ({p.provider.uuid: dict(group.resources)} if group.resources else {}),
                (p.provider.uuid,),
            )


def _single_providers(tree: Tree, group: RequestGroup) -> Iterator[ProviderState]:
    """Providers that take the whole suffixed group: resources, traits and aggregates
    all their own."""
    for state in (*tree.members.values(), *tree.sharing.values()):
        p = state.provider
        if group.in_tree is not None and group.in_tree not in _tree_of(tree, p.uuid):
            continue
        if (
            group.traits_met_by(p.traits)
            and group.aggregates_met_by(p.aggregates)
            and state.fits(group.resources)
        ):
            yield state


def _spread_options(tree: Tree, group: RequestGroup) -> Iterator[Option]:
    """The unsuffixed group: each class from any provider of the tree or a sharing
    provider; traits judged on the providers that supply, aggregates with the root's."""
    classes = sorted(group.resources)
    choices = [_suppliers(tree, group, rc) for rc in classes]
    for picked in itertools.product(*choices):
        traits = frozenset().union(*(tree.provider(p).provider.traits for p in picked))
        if not group.traits_met_by(traits):
            continue
        allocs: dict[str, dict[str, int]] = {}
        for rc, p in zip(classes, picked, strict=True):
            allocs.setdefault(p, {})[rc] = group.resources[rc]
        yield allocs, tuple(sorted(set(picked)))


def _suppliers(tree: Tree, group: RequestGroup, rc: str) -> list[str]:
    """Who may supply ``rc`` to the unsuffixed group, aggregates as Placement judges
    them: an aggregate on the root spans its tree, so a member meets ``member_of`` by
    its own aggregates or by the root's, and is excluded by a forbidden aggregate on
    either; a sharing provider must meet ``member_of`` itself (the tree's root does not
    lend it aggregates), and neither it nor the tree's root may be in a forbidden one."""
    amount = group.resources[rc]
    root_aggs = tree.root.provider.aggregates
    if group.in_tree is not None and group.in_tree not in tree.members:
        return []
    found = []
    for state in tree.members.values():
        aggs = state.provider.aggregates
        if (
            state.fits({rc: amount})
            and (group.member_of_met_by(aggs) or group.member_of_met_by(root_aggs))
            and not group.forbids_any(aggs | root_aggs)
        ):
            found.append(state.provider.uuid)
    if group.in_tree is None:  # an unsuffixed in_tree keeps to the tree itself
        for state in tree.sharing.values():
            aggs = state.provider.aggregates
            if (
                state.fits({rc: amount})
                and group.member_of_met_by(aggs)
                and not group.forbids_any(aggs | root_aggs)
            ):
                found.append(state.provider.uuid)
    return found


def _tree_of(tree: Tree, uuid: str) -> Sequence[str]:
    """The uuids an ``in_tree`` naming any of them selects ``uuid`` by."""
    return tuple(tree.members) if uuid in tree.members else (uuid,)
