"""``GET /allocation_candidates`` (1.10+): the query, the candidate engine, the view.

The engine (``berthing.engine``) is the same one berthing's own scheduler places
through; this module only translates. Where Placement hands every caller the same
first N candidates, berthing starts each request at a different point of the store's
shuffled order (``SeedStream``), so parallel schedulers are offered different hosts.
"""

from __future__ import annotations

import random
import threading
from dataclasses import replace

from berthing.api.errors import ApiError
from berthing.api.placement.candidate_query import parse_candidate_query
from berthing.api.placement.candidate_views import candidates_view
from berthing.api.placement.core import Call, Reply
from berthing.engine import find_candidates
from berthing.model import (
    STANDARD_RESOURCE_CLASSES,
    STANDARD_TRAITS,
    CandidateRequest,
    NotFound,
)
from berthing.store import Store

__all__ = ["SeedStream", "list_candidates"]

_CLASSES = frozenset(STANDARD_RESOURCE_CLASSES)
_TRAITS = frozenset(STANDARD_TRAITS)


class SeedStream:
    """Where each request's candidates start in the store's shuffled order.

    * randomize, no seed: a fresh random start per request (the engine draws it);
    * randomize with a seed: the next value of one stream seeded at start, so requests
      still spread but a replay of the same requests gets the same answers;
    * no randomizing: one fixed start (the seed, or 0), so every caller gets the same
      first N, as from Placement.
    """

    def __init__(self, randomize: bool, seed: int | None) -> None:
        self._fixed = None if randomize else (seed or 0)
        self._stream = random.Random(seed) if randomize and seed is not None else None
        self._lock = threading.Lock()  # handlers run in a thread pool

    def next(self) -> int | None:
        if self._stream is None:
            return self._fixed
        with self._lock:
            return self._stream.randrange(2**31)


def list_candidates(call: Call) -> Reply:
    request = parse_candidate_query(call.query, call.version)
    _check_names(call.store, request)
    seeds: SeedStream = call.settings.seeds
    request = replace(request, seed=seeds.next())
    try:
        result = find_candidates(call.source, request)
    except NotFound as exc:  # a class or trait deleted since it was checked
        raise ApiError(400, exc.message) from exc
    return Reply(body=candidates_view(result, request.classes, call.version))


def _check_names(store: Store, request: CandidateRequest) -> None:
    """Unknown classes and traits are 400s (Placement's), whichever path the engine
    takes: it may never ask the store about a class a tree cannot supply anyway."""
    classes = request.classes - _CLASSES
    if classes:
        missing = classes - set(store.list_resource_classes())
        if missing:
            raise ApiError(400, f"No such resource class: {', '.join(sorted(missing))}.")
    traits = _trait_names(request) - _TRAITS
    if traits:
        missing = traits - set(store.list_traits())
        if missing:
            raise ApiError(400, f"No such trait: {', '.join(sorted(missing))}.")


def _trait_names(request: CandidateRequest) -> set[str]:
    names = set(request.root_required | request.root_forbidden)
    for g in request.groups:
        names |= g.required | g.forbidden
        names.update(*g.any_of)
    return names
