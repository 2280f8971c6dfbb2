"""Where candidates come from: the first stage of the pipeline, pluggable.

berthing's own source asks the store every time, through the candidate engine; a design
that selects on a private copy of host state (Nova's classic FilterScheduler,
``berthing.sim.classic``) plugs in its own source here.
"""

from __future__ import annotations

from typing import Protocol

from berthing.engine import ProviderSource, find_candidates
from berthing.model import CandidateRequest, CandidateResult

__all__ = ["CandidateSource", "StoreCandidates"]


class CandidateSource(Protocol):
    def find(self, request: CandidateRequest) -> CandidateResult:
        """Allocation candidates for ``request``, in the order to consider them. A
        source may be stale; the claim stage is what makes a choice true."""
        ...


class StoreCandidates:
    """The store answers, on its own indexes, with allocations that fit right now."""

    def __init__(self, store: ProviderSource) -> None:
        self.store = store

    def find(self, request: CandidateRequest) -> CandidateResult:
        return find_candidates(self.store, request)
