"""Answers to "why did this not fit?".

When the engine finds no candidate, each constraint of the request is asked on its
own, so the answer names the constraint that no provider meets. When candidates came
back but none was placed, the filters' rejection counts and the lost races say why.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from berthing.engine import ProviderSource, find_candidates
from berthing.model import (
    SHARING_TRAIT,
    BerthingError,
    CandidateRequest,
    ProviderQuery,
    ProviderState,
    RequestGroup,
)

__all__ = ["Explanation", "NoValidHost", "census", "describe_rejections", "explain_empty"]


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


@dataclass(frozen=True, slots=True)
class Explanation:
    """A dry run's answer (``Scheduler.explain``)."""

    fits: bool
    hosts: int
    """Hosts in the cloud (roots of trees, sharing providers aside)."""
    rejected: Counter[str]
    """Hosts ruled out, by the first constraint each fails (or the filter that said no)."""
    destinations: tuple[str, ...]
    reasons: tuple[str, ...]

    @property
    def summary(self) -> str:
        """kube-scheduler's sentence: "0/300 hosts are available: 212 ..., 88 ..."."""
        available = self.hosts - sum(self.rejected.values()) if self.fits else 0
        parts = ", ".join(f"{n} {why}" for why, n in self.rejected.most_common())
        return f"{max(available, 0)}/{self.hosts} hosts are available" + (
            f": {parts}" if parts else ""
        )


def census(source: ProviderSource, request: CandidateRequest) -> tuple[int, Counter[str]]:
    """Every host of the cloud and the first constraint of ``request`` it fails on its
    own (its tree counts as one host). A dry run's tally: it reads the whole cloud."""
    trees: dict[str, list[ProviderState]] = {}
    for state in source.find_providers(ProviderQuery()):
        if SHARING_TRAIT not in state.provider.traits:
            trees.setdefault(state.provider.root_uuid or state.provider.uuid, []).append(state)
    rejected: Counter[str] = Counter()
    for root, members in trees.items():
        why = _first_failure(root, members, request)
        if why is not None:
            rejected[why] += 1
    return len(trees), rejected


def _first_failure(
    root: str, members: list[ProviderState], request: CandidateRequest
) -> str | None:
    top = next((m for m in members if m.provider.uuid == root), members[0]).provider
    if request.root_forbidden & top.traits:
        return "disabled or down"
    if request.roots is not None and root not in request.roots:
        return "not the forced or pinned host"
    traits = frozenset().union(*(m.provider.traits for m in members))
    for group in request.groups:
        if SHARING_TRAIT in group.required:
            continue  # served by a pool, not by the host
        if not group.aggregates_met_by(
            top.aggregates | frozenset().union(*(m.provider.aggregates for m in members))
        ):
            return "not in the requested zone or aggregates"
        missing = sorted(group.required - traits)
        if missing:
            return f"lacks trait {missing[0]}"
        for rc, amount in sorted(group.resources.items()):
            if not any(m.fits({rc: amount}) for m in members):
                return f"not enough {rc}"
    return None


def describe_rejections(rejections: Counter[str], conflicts: int, candidates: int) -> list[str]:
    reasons = [f"{n} rejected: {why}" for why, n in rejections.most_common()]
    if conflicts:
        reasons.append(f"{conflicts} claim(s) lost to concurrent schedulers")
    return [f"{candidates} candidate(s) fit the query", *reasons]
