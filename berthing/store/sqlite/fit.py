"""The candidate query in SQL: only providers that fit come back from the engine.

Each requested class joins its inventory row by primary key and tests free capacity
(``capacity - used``, kept current by claims) and the unit rules. Traits and aggregates
are ``EXISTS`` probes on their primary keys. Nothing here scans allocations.

A query with resources can be *driven* from one requested class (the rarest): that
class's inventory rows are walked in the providers' fixed random order (index
``(rc_id, shuffle)``) and every other test is a primary-key probe per row. A sampled
query then costs about ``limit / share of them that fits`` rows, bounded by how many
providers have that class, however big the cloud. Left to itself, SQLite gathered
every provider with room and sorted them all: O(providers) per query.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Mapping, Sequence

from berthing.model import ProviderQuery

__all__ = ["ClassSizes", "FitSql", "build_fit_sql"]


class FitSql:
    """A parametrized ``SELECT p.id FROM ...`` under construction."""

    def __init__(self, driven: bool) -> None:
        self.driven = driven
        self.joins: list[str] = []
        self.join_params: list[object] = []
        self.where: list[str] = []
        self.where_params: list[object] = []

    @property
    def order(self) -> str:
        """The providers' fixed random rank, read from the driving table."""
        return "d.shuffle" if self.driven else "p.shuffle"

    @property
    def key(self) -> str:
        """The provider id every probe keys on. When driven, the driving index's own
        column: SQLite then runs the probes before it fetches the row behind the index
        entry, so a provider rejected by a trait or aggregate costs no row reads."""
        return "d.provider_id" if self.driven else "p.id"

    @property
    def params(self) -> list[object]:
        """In the order the placeholders appear: joins first, then the WHERE clause."""
        return self.join_params + self.where_params

    def sql(self, tail: str = "") -> str:
        where = " AND ".join(self.where) or "1"
        return f"SELECT p.id FROM {self._source()} {' '.join(self.joins)} WHERE {where} {tail}"

    def _source(self) -> str:
        if not self.driven:
            return "providers p"
        # CROSS JOIN fixes SQLite's join order: the driving rows stay the outer loop,
        # walked in rank order, and every other table is probed by key for each of them.
        return "inventories d CROSS JOIN providers p ON p.id = d.provider_id"


class ClassSizes:
    """How many providers have each resource class, re-counted every ``ttl`` seconds.

    Only the choice of driving class depends on it, never a result: a stale count can
    make a query slower, not wrong. A class missing from the count counts as rare.
    """

    def __init__(self, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self._rows: dict[int, int] = {}
        self._at = -math.inf

    def rarest(self, db: sqlite3.Connection, rc_ids: Mapping[str, int]) -> str:
        if time.monotonic() - self._at > self.ttl:
            self._rows = dict(db.execute("SELECT rc_id, count(*) FROM inventories GROUP BY rc_id"))
            self._at = time.monotonic()
        # Ties broken by name, so that the same query always takes the same plan.
        return min(sorted(rc_ids), key=lambda rc: self._rows.get(rc_ids[rc], 0))


def build_fit_sql(
    query: ProviderQuery,
    rc_ids: Mapping[str, int],
    trait_ids: Mapping[str, int],
    tree_root_id: int | None,
    driver: str | None = None,
) -> FitSql:
    """The query for ``query``, walked from class ``driver`` if one is given."""
    fit = FitSql(driven=driver is not None)
    for n, (rc, amount) in enumerate(sorted(query.resources.items())):
        alias = "d" if rc == driver else f"i{n}"
        test = (
            f"{alias}.rc_id = ? AND {alias}.capacity - {alias}.used >= ?"
            f" AND {alias}.min_unit <= ? AND {alias}.max_unit >= ? AND ? % {alias}.step_size = 0"
        )
        params = [rc_ids[rc], amount, amount, amount, amount]
        if alias == "d":
            fit.where.append(test)
            fit.where_params += params
        else:
            join = "CROSS JOIN" if driver else "JOIN"
            fit.joins.append(
                f"{join} inventories {alias} ON {alias}.provider_id = {fit.key} AND {test}"
            )
            fit.join_params += params
    _add_filters(fit, query, trait_ids, tree_root_id)
    return fit


def _add_filters(
    fit: FitSql, query: ProviderQuery, trait_ids: Mapping[str, int], tree_root_id: int | None
) -> None:
    """Everything but resources: WHERE terms on the provider ``p``."""
    for trait in sorted(query.required_traits):
        _related(fit, "provider_traits", "trait_id", [trait_ids[trait]])
    if query.forbidden_traits:
        ids = [trait_ids[t] for t in sorted(query.forbidden_traits)]
        _related(fit, "provider_traits", "trait_id", ids, present=False)
    for group in query.any_traits:
        _related(fit, "provider_traits", "trait_id", [trait_ids[t] for t in sorted(group)])
    for aggregates in query.member_of:
        _related(fit, "provider_aggregates", "aggregate", sorted(aggregates))
    if query.forbidden_aggregates:
        aggs = sorted(query.forbidden_aggregates)
        _related(fit, "provider_aggregates", "aggregate", aggs, present=False)
    _add_identity_filters(fit, query, tree_root_id)


def _related(
    fit: FitSql, table: str, column: str, values: Sequence[object], *, present: bool = True
) -> None:
    """``p`` has (or, not ``present``, has none of) a row in ``table`` whose ``column`` is
    one of ``values``."""
    fit.where.append(
        f"{'' if present else 'NOT '}EXISTS (SELECT 1 FROM {table} x WHERE x.provider_id = "
        f"{fit.key} AND x.{column} IN ({_marks(len(values))}))"
    )
    fit.where_params += values


def _add_identity_filters(fit: FitSql, query: ProviderQuery, tree_root_id: int | None) -> None:
    """Which providers by name, uuid or tree."""
    if query.roots is not None:
        roots = sorted(query.roots)
        fit.where.append(
            f"p.root_id IN (SELECT r.id FROM providers r WHERE r.uuid IN ({_marks(len(roots))}))"
        )
        fit.where_params += roots
    if tree_root_id is not None:
        fit.where.append("p.root_id = ?")
        fit.where_params.append(tree_root_id)
    if query.name is not None:
        fit.where.append("p.name = ?")
        fit.where_params.append(query.name)
    if query.uuids is not None:
        uuids = sorted(query.uuids)
        fit.where.append(f"p.uuid IN ({_marks(len(uuids))})")
        fit.where_params += uuids


def _marks(n: int) -> str:
    return ",".join("?" * n)
