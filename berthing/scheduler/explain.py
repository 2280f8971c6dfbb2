"""Answers to "why did this not fit?".

When the store returns no candidate, each constraint of the query is asked on its
own, so the answer names the constraint that no provider meets. When candidates came
back but none was placed, the filters' rejection counts and the lost races say why.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from berthing.model import BerthingError, ProviderQuery
from berthing.store import Store

__all__ = ["NoValidHost", "explain_empty_query"]


class NoValidHost(BerthingError):
    """No host could take the request; ``reasons`` says why, constraint by constraint."""

    code = "berthing.no_valid_host"
    http_status = 409

    def __init__(self, summary: str, reasons: list[str]) -> None:
        self.reasons = reasons
        detail = "; ".join(reasons) if reasons else "no reason recorded"
        super().__init__(
            f"No valid host was found: {summary}: {detail}.",
            hint="Ask for less, relax traits/aggregates/zone, or add capacity.",
        )


def _exists(store: Store, query: ProviderQuery) -> bool:
    return bool(store.find_providers(replace(query, limit=1, seed=0)))


def explain_empty_query(store: Store, query: ProviderQuery) -> list[str]:
    """Name each constraint that, on its own, no provider meets."""
    bare = ProviderQuery(forbidden_traits=query.forbidden_traits)
    reasons = []
    for rc, amount in sorted(query.resources.items()):
        if not _exists(store, replace(bare, resources={rc: amount})):
            reasons.append(f"no enabled provider has {amount} {rc} free")
    for trait in sorted(query.required_traits):
        if not _exists(store, replace(bare, required_traits=frozenset({trait}))):
            reasons.append(f"no enabled provider has trait {trait}")
    for group in query.member_of:
        if not _exists(store, replace(bare, member_of=(group,))):
            reasons.append(f"no enabled provider in aggregate(s) {', '.join(sorted(group))}")
    if query.name is not None and not _exists(store, ProviderQuery(name=query.name)):
        reasons.append(f"no provider named {query.name}")
    if query.uuids is not None and not _exists(
        store, replace(query, member_of=(), required_traits=frozenset())
    ):
        reasons.append(
            f"the {len(query.uuids)} host(s) the request is pinned to (hard affinity or "
            "same_host) lack the room"
        )
    if not reasons:
        reasons.append("each constraint is met somewhere, but no provider meets all at once")
    return reasons


def describe_rejections(rejections: Counter[str], conflicts: int, candidates: int) -> list[str]:
    reasons = [f"{n} rejected: {why}" for why, n in rejections.most_common()]
    if conflicts:
        reasons.append(f"{conflicts} claim(s) lost to concurrent schedulers")
    return [f"{candidates} candidate(s) fit the query", *reasons]
