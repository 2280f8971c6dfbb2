"""The pipeline, assembled in one place: query -> filters -> weighers -> pick -> claim.

Read this function to know what a scheduler does with a request, stage by stage; each
stage is a small pluggable unit (``candidates``, ``filters``, ``weighers``,
``claims``). A design to compare against (``berthing.sim.classic``) passes its own
source and claim strategy; nothing here knows it exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from berthing.scheduler.candidates import CandidateSource, StoreCandidates
from berthing.scheduler.claims import ClaimStrategy, StoreClaims
from berthing.scheduler.config import SchedulerConfig
from berthing.scheduler.filters import Filter, resolve_filters
from berthing.scheduler.weighers import Weigher, resolve_weighers
from berthing.store import Store

__all__ = ["Stack", "build_stack"]


@dataclass(frozen=True, slots=True)
class Stack:
    source: CandidateSource
    filters: Sequence[tuple[str, Filter]]
    weighers: Sequence[tuple[Weigher, float]]
    subset: int
    claims: ClaimStrategy


def build_stack(
    store: Store,
    config: SchedulerConfig,
    *,
    source: CandidateSource | None = None,
    claims: ClaimStrategy | None = None,
) -> Stack:
    return Stack(
        # Ask the store, not a private copy, which allocations fit now: the candidate
        # engine turns the request's groups (host resources, a pool's disk, a child's
        # GPU) into questions the store answers on its own indexes, `candidate_limit`
        # at a time from a seeded point of a shuffled order.
        source=source or StoreCandidates(store),
        # Filters do what a query cannot (hints, group policies, agents' host stats);
        # each rejection is counted under its Reason.
        filters=resolve_filters(config.filters),
        # Weighers score the survivors, normalised over them and multiplied (Nova's
        # weighers): positive resource multipliers spread, negative ones pack.
        weighers=resolve_weighers(config.weights),
        # Pick at random among the best N: parallel schedulers facing the same cloud
        # then rarely pick the same host (Nomad's "power of two choices").
        subset=config.host_subset_size,
        # Make the choice true with a compare-and-set in the store; a lost race moves on
        # to the next candidate, then to a fresh query, up to `max_attempts`.
        claims=claims or StoreClaims(store),
    )
