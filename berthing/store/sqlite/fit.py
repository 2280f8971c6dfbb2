"""The candidate query in SQL: only providers that fit come back from the engine.

Each requested class joins its inventory row by primary key and tests free capacity
(``capacity - used``, kept current by claims) and the unit rules. Traits and aggregates
are ``EXISTS`` probes on their primary keys. Nothing here scans allocations.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from berthing.model import ProviderQuery

__all__ = ["SHUFFLE_SPAN", "FitSql", "build_fit_sql", "seed_start"]

SHUFFLE_SPAN = 2**31


def seed_start(seed: int) -> int:
    """Where in the shuffled order a seeded query starts."""
    return random.Random(seed).randrange(SHUFFLE_SPAN)


class FitSql:
    """A parametrized ``SELECT p.id FROM providers p ...`` under construction."""

    def __init__(self) -> None:
        self.joins: list[str] = []
        self.where: list[str] = []
        self.params: list[object] = []

    def sql(self, tail: str = "") -> str:
        where = " AND ".join(self.where) or "1"
        return f"SELECT p.id FROM providers p {' '.join(self.joins)} WHERE {where} {tail}"


def build_fit_sql(
    query: ProviderQuery,
    rc_ids: Mapping[str, int],
    trait_ids: Mapping[str, int],
    tree_root_id: int | None,
) -> FitSql:
    fit = FitSql()
    for n, (rc, amount) in enumerate(sorted(query.resources.items())):
        alias = f"i{n}"
        fit.joins.append(
            f"JOIN inventories {alias} ON {alias}.provider_id = p.id AND {alias}.rc_id = ?"
            f" AND {alias}.capacity - {alias}.used >= ? AND {alias}.min_unit <= ?"
            f" AND {alias}.max_unit >= ? AND ? % {alias}.step_size = 0"
        )
        fit.params += [rc_ids[rc], amount, amount, amount, amount]
    for trait in sorted(query.required_traits):
        fit.where.append(
            "EXISTS (SELECT 1 FROM provider_traits t WHERE t.provider_id = p.id AND t.trait_id = ?)"
        )
        fit.params.append(trait_ids[trait])
    if query.forbidden_traits:
        ids = [trait_ids[t] for t in sorted(query.forbidden_traits)]
        fit.where.append(
            "NOT EXISTS (SELECT 1 FROM provider_traits t WHERE t.provider_id = p.id"
            f" AND t.trait_id IN ({_marks(len(ids))}))"
        )
        fit.params += ids
    for group in query.member_of:
        aggs = sorted(group)
        fit.where.append(
            "EXISTS (SELECT 1 FROM provider_aggregates a WHERE a.provider_id = p.id"
            f" AND a.aggregate IN ({_marks(len(aggs))}))"
        )
        fit.params += aggs
    if tree_root_id is not None:
        fit.where.append("p.root_id = ?")
        fit.params.append(tree_root_id)
    if query.name is not None:
        fit.where.append("p.name = ?")
        fit.params.append(query.name)
    if query.uuids is not None:
        uuids = sorted(query.uuids)
        fit.where.append(f"p.uuid IN ({_marks(len(uuids))})")
        fit.params += uuids
    return fit


def _marks(n: int) -> str:
    return ",".join("?" * n)
