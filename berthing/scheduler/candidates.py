"""Where candidates come from: the first stage of the pipeline, pluggable.

berthing's own source asks the store every time; a design that selects on a private
copy of host state (Nova's classic FilterScheduler, ``berthing.sim.classic``) plugs in
its own source here.
"""

from __future__ import annotations

from typing import Protocol

from berthing.model import ProviderQuery, ProviderState
from berthing.store import ResourceStore

__all__ = ["CandidateSource", "StoreCandidates"]


class CandidateSource(Protocol):
    def find(self, query: ProviderQuery) -> list[ProviderState]:
        """Providers that fit ``query``, in the order to consider them. A source may be
        stale; the claim stage is what makes a choice true."""
        ...


class StoreCandidates:
    """The store answers, on its own indexes, with providers that fit right now."""

    def __init__(self, store: ResourceStore) -> None:
        self.store = store

    def find(self, query: ProviderQuery) -> list[ProviderState]:
        return self.store.find_providers(query)
