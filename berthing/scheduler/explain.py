"""Answers to "why did this not fit?".

When the engine finds no candidate, each constraint of the request is asked on its
own, so the answer names the constraint that no provider meets. When candidates came
back but none was placed, the filters' rejection counts and the lost races say why.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from berthing.engine import ProviderSource, find_candidates
from berthing.model import (
    SHARING_TRAIT,
    BerthingError,
    CandidateRequest,
    ProviderQuery,
    RequestGroup,
)

__all__ = ["NoValidHost", "describe_rejections", "explain_empty"]


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


def _exists(source: ProviderSource, query: ProviderQuery) -> bool:
    return bool(source.find_providers(replace(query, limit=1, seed=0)))


def _who(group: RequestGroup) -> str:
    return "sharing provider" if SHARING_TRAIT in group.required else "enabled provider"


def _group_reasons(
    source: ProviderSource, group: RequestGroup, enabled: ProviderQuery
) -> list[str]:
    """The constraints of one group that no provider meets even alone."""
    base = replace(enabled, required_traits=group.required & {SHARING_TRAIT})
    reasons = []
    for rc, amount in sorted(group.resources.items()):
        if not _exists(source, replace(base, resources={rc: amount})):
            reasons.append(f"no {_who(group)} has {amount} {rc} free")
    for trait in sorted(group.required - {SHARING_TRAIT}):
        if not _exists(source, replace(base, required_traits=base.required_traits | {trait})):
            reasons.append(f"no {_who(group)} has trait {trait}")
    for aggs in group.member_of:
        if not _exists(source, replace(base, member_of=(aggs,))):
            reasons.append(f"no {_who(group)} in aggregate(s) {', '.join(sorted(aggs))}")
    return reasons


def explain_empty(source: ProviderSource, request: CandidateRequest) -> list[str]:
    """Name each constraint that, on its own, no provider meets."""
    enabled = ProviderQuery(forbidden_traits=request.root_forbidden)
    reasons = [r for g in request.groups for r in _group_reasons(source, g, enabled)]
    if (
        request.roots is not None
        and find_candidates(source, replace(request, roots=None, limit=1)).candidates
    ):
        reasons.append(
            f"the {len(request.roots)} host(s) the request is pinned to (forced, hard "
            "affinity or same_host) lack the room"
        )
    if not reasons:
        reasons.append("each constraint is met somewhere, but no host meets all at once")
    return reasons


def describe_rejections(rejections: Counter[str], conflicts: int, candidates: int) -> list[str]:
    reasons = [f"{n} rejected: {why}" for why, n in rejections.most_common()]
    if conflicts:
        reasons.append(f"{conflicts} claim(s) lost to concurrent schedulers")
    return [f"{candidates} candidate(s) fit the query", *reasons]
