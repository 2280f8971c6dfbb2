"""Allocation candidates for a request, from any provider source (a store, or the
classic baseline's private copy).

Two paths, chosen per request by the store's shape:

* **Lone providers** (no trees, no sharing providers anywhere): every candidate is one
  provider, so the whole request (all groups merged) is one ``find_providers`` query,
  answered on the store's indexes with ``limit`` and a seeded start. This is Placement's
  single-provider path and berthing's scheduling hot path.
* **Trees and sharing**: a *driver* query (one class a candidate must take from a
  provider of its own tree) names providers in the store's seeded order; their trees
  are loaded a page at a time and combined in memory (``combine``) until ``limit``
  candidates are found. The work grows with the candidates wanted, not with the cloud.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Protocol

from berthing.engine.combine import Tree, tree_candidates
from berthing.model import (
    SHARING_TRAIT,
    Candidate,
    CandidateRequest,
    CandidateResult,
    InvalidInput,
    Isolation,
    ProviderNotFound,
    ProviderQuery,
    ProviderState,
    RequestGroup,
    StoreShape,
)

__all__ = ["MAX_PER_TREE", "ProviderSource", "find_candidates"]

#: Candidates taken from one tree at most: a tree with many children and many groups
#: has combinatorially many, and a scheduler needs a few per host (documented cap).
MAX_PER_TREE = 1000
#: Providers asked of the driver query per page when no limit bounds the request.
PAGE = 200


class ProviderSource(Protocol):
    """The part of ``ResourceStore`` the engine needs."""

    def shape(self) -> StoreShape: ...

    def find_providers(self, query: ProviderQuery) -> list[ProviderState]: ...


def find_candidates(source: ProviderSource, request: CandidateRequest) -> CandidateResult:
    """Allocation candidates for ``request``; with ``request.limit``, at most that many,
    from a seeded start of the store's shuffled order (random without a seed)."""
    seed = request.seed if request.seed is not None else random.randrange(2**31)
    request = replace(request, seed=seed)
    shape = source.shape()
    if not shape.nested and not shape.sharing:
        found = _lone_providers(source, request)
        return _result(found, {c.root: [source_state] for c, source_state in found})
    return _trees(source, request, shape)


# -- lone providers ------------------------------------------------------------------------


def _lone_providers(
    source: ProviderSource, request: CandidateRequest
) -> list[tuple[Candidate, ProviderState]]:
    query = _merged_query(request)
    if query is None:
        return []
    try:
        found = source.find_providers(query)
    except ProviderNotFound:  # an in_tree naming no provider: nothing is in its tree
        return []
    return [(_whole(request, s.provider.uuid), s) for s in found]


def _merged_query(request: CandidateRequest) -> ProviderQuery | None:
    """All groups on one provider, as one query; None if no provider could ever do it."""
    groups = request.groups
    numbered = [g for g in groups if not g.unsuffixed]
    if request.isolation is Isolation.ISOLATE and len(numbered) > 1:
        return None
    trees = {g.in_tree for g in groups if g.in_tree is not None}
    required = request.root_required.union(*(g.required for g in groups))
    forbidden = request.root_forbidden.union(*(g.forbidden for g in groups))
    if len(trees) > 1 or required & forbidden:
        return None
    try:
        return _query_for_all(request, required, forbidden, next(iter(trees), None))
    except InvalidInput:  # groups that contradict each other: no one provider serves all
        return None


def _query_for_all(
    request: CandidateRequest,
    required: frozenset[str],
    forbidden: frozenset[str],
    in_tree: str | None,
) -> ProviderQuery:
    groups = request.groups
    resources: dict[str, int] = {}
    for g in groups:
        for rc, n in g.resources.items():
            resources[rc] = resources.get(rc, 0) + n
    return ProviderQuery(
        resources=resources,
        required_traits=required,
        forbidden_traits=forbidden,
        any_traits=tuple(a for g in groups for a in g.any_of),
        member_of=tuple(m for g in groups for m in g.member_of),
        forbidden_aggregates=frozenset().union(*(g.forbidden_aggregates for g in groups)),
        in_tree=in_tree,
        uuids=request.roots,
        limit=request.limit,
        seed=request.seed,
    )


def _whole(request: CandidateRequest, uuid: str) -> Candidate:
    resources: dict[str, int] = {}
    for g in request.groups:
        for rc, n in g.resources.items():
            resources[rc] = resources.get(rc, 0) + n
    return Candidate(uuid, {uuid: resources}, {g.suffix: (uuid,) for g in request.groups})


# -- trees and sharing providers -----------------------------------------------------------


def _trees(source: ProviderSource, request: CandidateRequest, shape: StoreShape) -> CandidateResult:
    sharing = _sharing_providers(source) if shape.sharing else {}
    seen: set[tuple[object, ...]] = set()
    found: list[tuple[Candidate, Tree]] = []
    for tree in _walk_trees(source, request, shape, sharing):
        for candidate in _take_from(tree, request):
            key = _key(candidate)
            if key not in seen:
                seen.add(key)
                found.append((candidate, tree))
                if request.limit is not None and len(found) >= request.limit:
                    return _tree_result(found)
    return _tree_result(found)


def _take_from(tree: Tree, request: CandidateRequest) -> Iterator[Candidate]:
    for n, candidate in enumerate(tree_candidates(tree, request)):
        if n >= MAX_PER_TREE:
            return
        yield candidate


def _key(candidate: Candidate) -> tuple[object, ...]:
    allocs = tuple(
        sorted((p, tuple(sorted(per.items()))) for p, per in candidate.allocations.items())
    )
    return allocs, tuple(sorted(candidate.mappings.items()))


def _sharing_providers(source: ProviderSource) -> dict[str, ProviderState]:
    found = source.find_providers(ProviderQuery(required_traits=frozenset({SHARING_TRAIT})))
    return {s.provider.uuid: s for s in found}


def _walk_trees(
    source: ProviderSource,
    request: CandidateRequest,
    shape: StoreShape,
    sharing: dict[str, ProviderState],
) -> Iterator[Tree]:
    """Trees in the driver's order (seeded), a page of roots at a time."""
    done: set[str] = set()
    for page in _driver_pages(source, request, sharing):
        roots = [r for r in dict.fromkeys(_roots_of(source, page, sharing)) if r not in done]
        done.update(roots)
        members = _load_trees(source, roots, shape, page)
        for root in roots:
            if root in members:
                yield _tree(members[root], sharing)


def _driver_pages(
    source: ProviderSource, request: CandidateRequest, sharing: dict[str, ProviderState]
) -> Iterator[list[ProviderState]]:
    """Pages of providers that supply the driver class, from the seeded start; an
    unknown in_tree or a page shorter than asked ends the walk."""
    query = _driver_query(request, sharing)
    size = PAGE if request.limit is None else max(2 * request.limit, 20)
    offset_seed = request.seed
    seen: set[str] = set()
    while True:
        try:
            page = source.find_providers(replace(query, limit=size, seed=offset_seed))
        except ProviderNotFound:
            return
        fresh = [s for s in page if s.provider.uuid not in seen]
        if not fresh:
            return
        seen.update(s.provider.uuid for s in fresh)
        yield fresh
        if len(page) < size:
            return
        size *= 4  # the first pages did not suffice: look further in bigger steps


def _driver_query(request: CandidateRequest, sharing: dict[str, ProviderState]) -> ProviderQuery:
    """The most selective per-provider question every candidate must answer yes to.

    A suffixed group's provider needs the whole group, so all of it is asked. For the
    unsuffixed group only one class (preferably one no sharing provider offers) and its
    forbidden traits: a provider supplying that class must not have them.
    """
    shared = {rc for s in sharing.values() for rc in s.inventories}
    numbered = [
        g
        for g in request.groups
        if g.resources and not g.unsuffixed and not set(g.resources) & shared
    ]
    if numbered:
        g = numbered[0]
        return _group_query(g, request)
    g = next(g for g in request.groups if g.resources)
    rc = min(g.resources, key=lambda c: (c in shared, c))
    in_tree = g.in_tree if g.unsuffixed else None
    return ProviderQuery(
        {rc: g.resources[rc]},
        forbidden_traits=g.forbidden if g.unsuffixed else frozenset(),
        in_tree=in_tree,
        roots=request.roots,
    )


def _group_query(g: RequestGroup, request: CandidateRequest) -> ProviderQuery:
    return ProviderQuery(
        resources=g.resources,
        required_traits=g.required,
        forbidden_traits=g.forbidden,
        any_traits=g.any_of,
        member_of=g.member_of,
        forbidden_aggregates=g.forbidden_aggregates,
        in_tree=g.in_tree,
        roots=request.roots,
    )


def _roots_of(
    source: ProviderSource, page: Iterable[ProviderState], sharing: dict[str, ProviderState]
) -> Iterator[str]:
    """Each driver provider's root; a sharing provider stands for itself and for the
    trees of every provider in its aggregates."""
    for state in page:
        p = state.provider
        yield p.root_uuid or p.uuid
        if p.uuid in sharing and p.aggregates:
            anchored = source.find_providers(ProviderQuery(member_of=(p.aggregates,)))
            yield from (a.provider.root_uuid or a.provider.uuid for a in anchored)


def _load_trees(
    source: ProviderSource, roots: list[str], shape: StoreShape, page: list[ProviderState]
) -> dict[str, list[ProviderState]]:
    if not roots:
        return {}
    known = {s.provider.uuid: s for s in page}
    if not shape.nested and all(r in known for r in roots):
        return {r: [known[r]] for r in roots}  # lone providers: the page is the tree
    members: dict[str, list[ProviderState]] = {}
    for state in source.find_providers(ProviderQuery(roots=frozenset(roots))):
        members.setdefault(state.provider.root_uuid or state.provider.uuid, []).append(state)
    return members


def _tree(members: list[ProviderState], sharing: dict[str, ProviderState]) -> Tree:
    by_uuid = {s.provider.uuid: s for s in members}
    root = next(s for s in members if s.provider.parent_uuid is None)
    if root.provider.uuid in sharing:
        near: dict[str, ProviderState] = {}  # a sharing provider serves alone, not with others
    else:
        aggs = frozenset().union(*(s.provider.aggregates for s in members))
        near = {
            u: s for u, s in sharing.items() if s.provider.aggregates & aggs and u not in by_uuid
        }
    ordered = {root.provider.uuid: root, **by_uuid}
    return Tree(root, ordered, near)


# -- results -------------------------------------------------------------------------------


def _result(
    found: list[tuple[Candidate, ProviderState]], trees: dict[str, list[ProviderState]]
) -> CandidateResult:
    providers = {s.provider.uuid: s for _, s in found}
    return CandidateResult(
        tuple(c for c, _ in found),
        providers,
        {root: tuple(s.provider.uuid for s in states) for root, states in trees.items()},
    )


def _tree_result(found: list[tuple[Candidate, Tree]]) -> CandidateResult:
    providers: dict[str, ProviderState] = {}
    trees: dict[str, tuple[str, ...]] = {}
    for candidate, tree in found:
        used = {p for ps in candidate.mappings.values() for p in ps} | set(candidate.allocations)
        if candidate.root == tree.root.provider.uuid:
            members = tuple(tree.members)
        else:
            members = (candidate.root,)
        for uuid in (*members, *used):
            providers[uuid] = tree.provider(uuid)
        trees[candidate.root] = tuple(dict.fromkeys((*trees.get(candidate.root, ()), *members)))
    return CandidateResult(tuple(c for c, _ in found), providers, trees)
