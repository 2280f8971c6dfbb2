"""The candidate engine: which allocations could satisfy a request, over any store.

One backend-agnostic module answers Placement's ``GET /allocation_candidates`` and
berthing's own scheduler alike: request groups, provider trees, sharing providers,
isolation, same_subtree, root traits. The store answers the per-provider questions on
its own indexes (``find_providers``); this package combines the answers per tree,
lazily, so ``limit`` bounds the work (see docs/placement.md).
"""

from berthing.engine.engine import MAX_PER_TREE, ProviderSource, find_candidates

__all__ = ["MAX_PER_TREE", "ProviderSource", "find_candidates"]
