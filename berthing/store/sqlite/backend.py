"""The embedded default store: one SQLite file (or memory), shared by processes."""

from __future__ import annotations

import functools
import random
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from berthing.model import (
    ClaimConflict,
    Claimed,
    ClaimResult,
    ConflictKind,
    Consumer,
    ConsumerNotFound,
    DuplicateName,
    GenerationConflict,
    InUse,
    InvalidInput,
    Inventory,
    Provider,
    ProviderNotFound,
    ProviderQuery,
    ProviderState,
    Record,
    ResourceClassNotFound,
    TraitNotFound,
    consumer_conflict,
    is_custom,
    new_uuid,
    refuse_shrink_below_use,
    validate_resource_class,
    validate_trait,
    validate_uuid,
)
from berthing.store.base import Store
from berthing.store.sqlite import records
from berthing.store.sqlite.connection import MEMORY, Database
from berthing.store.sqlite.fit import SHUFFLE_SPAN, ClassSizes, FitSql, build_fit_sql, seed_start

__all__ = ["SqliteStore"]

# One row per provider, its traits and aggregates folded in by group_concat: one
# statement instead of three per candidate batch.
_PROVIDER_SQL = (
    "SELECT p.id, p.uuid, p.name, p.generation, par.uuid, root.uuid,"
    " (SELECT group_concat(t.name) FROM provider_traits pt JOIN traits t ON t.id = pt.trait_id"
    " WHERE pt.provider_id = p.id),"
    " (SELECT group_concat(a.aggregate) FROM provider_aggregates a WHERE a.provider_id = p.id)"
    " FROM providers p LEFT JOIN providers par ON par.id = p.parent_id"
    " JOIN providers root ON root.id = p.root_id"
)


class _Lost(Exception):
    """Raised inside a claim transaction to roll it back and report a conflict."""

    def __init__(self, conflict: ClaimConflict) -> None:
        self.conflict = conflict


class SqliteStore(Store):
    capabilities = frozenset({"sql"})

    def __init__(self, path: str = MEMORY) -> None:
        self.url = "sqlite://" if path == MEMORY else f"sqlite:///{path}"
        self._db = Database(path)
        self._class_sizes = ClassSizes()

    def close(self) -> None:
        self._db.close()

    def bulk(self) -> AbstractContextManager[None]:
        """One outer transaction (one commit) for all writes inside; each still rolls
        back alone on failure. Holds the write lock: other processes wait meanwhile."""
        return self._db.bulk()

    # -- names ---------------------------------------------------------------------

    def _ensure_name(self, table: str, name: str) -> bool:
        if not is_custom(name):
            raise InvalidInput(
                f"{name} is a standard name; only CUSTOM_* names can be created.",
                hint="Standard names exist already and can be used as they are.",
            )
        with self._db.write() as db:
            cur = db.execute(f"INSERT OR IGNORE INTO {table}(name) VALUES (?)", (name,))
            return cur.rowcount == 1

    def ensure_resource_class(self, name: str) -> bool:
        return self._ensure_name("resource_classes", validate_resource_class(name))

    def ensure_trait(self, name: str) -> bool:
        return self._ensure_name("traits", validate_trait(name))

    def list_resource_classes(self) -> list[str]:
        with self._db.read() as db:
            return [r[0] for r in db.execute("SELECT name FROM resource_classes ORDER BY name")]

    def list_traits(self) -> list[str]:
        with self._db.read() as db:
            return [r[0] for r in db.execute("SELECT name FROM traits ORDER BY name")]

    def delete_resource_class(self, name: str) -> None:
        validate_resource_class(name)
        if not is_custom(name):
            raise InvalidInput(f"Standard resource class {name} cannot be deleted.")
        with self._db.write() as db:
            rc_id = _rc_ids(db, [name])[name]
            if db.execute("SELECT 1 FROM inventories WHERE rc_id = ? LIMIT 1", (rc_id,)).fetchone():
                raise InUse(
                    f"Resource class {name} is used by inventories.",
                    hint="Remove those inventories first.",
                )
            db.execute("DELETE FROM resource_classes WHERE id = ?", (rc_id,))

    def delete_trait(self, name: str) -> None:
        validate_trait(name)
        if not is_custom(name):
            raise InvalidInput(f"Standard trait {name} cannot be deleted.")
        with self._db.write() as db:
            trait_id = _trait_ids(db, [name])[name]
            used = db.execute("SELECT 1 FROM provider_traits WHERE trait_id = ?", (trait_id,))
            if used.fetchone():
                raise InUse(f"Trait {name} is set on providers.", hint="Unset it first.")
            db.execute("DELETE FROM traits WHERE id = ?", (trait_id,))

    # -- providers -----------------------------------------------------------------

    def create_provider(
        self, name: str, uuid: str | None = None, parent_uuid: str | None = None
    ) -> Provider:
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise InvalidInput(f"Provider name must be 1 to 200 characters, got {name!r}.")
        puuid = validate_uuid(uuid) if uuid is not None else new_uuid()
        with self._db.write() as db:
            for column, value in (("uuid", puuid), ("name", name)):
                if db.execute(f"SELECT 1 FROM providers WHERE {column} = ?", (value,)).fetchone():
                    raise DuplicateName(
                        f"A resource provider with {column} {value!r} exists already.",
                        hint="Pick another name, or update the existing provider.",
                    )
            parent_id = root_id = None
            if parent_uuid is not None:
                row = db.execute(
                    "SELECT id, root_id FROM providers WHERE uuid = ?",
                    (validate_uuid(parent_uuid, "parent uuid"),),
                ).fetchone()
                if row is None:
                    raise InvalidInput(
                        f"Parent provider {parent_uuid} does not exist.",
                        hint="Create the parent first.",
                    )
                parent_id, root_id = row
            cur = db.execute(
                "INSERT INTO providers(uuid, name, parent_id, root_id, shuffle) VALUES (?,?,?,?,?)",
                (puuid, name, parent_id, root_id or 0, random.randrange(SHUFFLE_SPAN)),
            )
            if root_id is None:
                db.execute("UPDATE providers SET root_id = id WHERE id = ?", (cur.lastrowid,))
            return _load_providers(db, [_int(cur.lastrowid)])[0]

    def get_provider(self, uuid: str) -> Provider:
        return self.get_provider_state(uuid).provider

    def get_provider_state(self, uuid: str) -> ProviderState:
        with self._db.read() as db:
            pid = _provider_id(db, uuid)
            return _load_states(db, [pid])[0]

    def delete_provider(self, uuid: str) -> None:
        with self._db.write() as db:
            pid = _provider_id(db, uuid)
            if db.execute("SELECT 1 FROM allocations WHERE provider_id = ?", (pid,)).fetchone():
                raise InUse(
                    f"Provider {uuid} has allocations and cannot be deleted.",
                    hint="Release or move its consumers first.",
                )
            if db.execute("SELECT 1 FROM providers WHERE parent_id = ?", (pid,)).fetchone():
                raise InUse(
                    f"Provider {uuid} has child providers.", hint="Delete its children first."
                )
            db.execute("DELETE FROM providers WHERE id = ?", (pid,))

    def set_inventories(
        self, uuid: str, generation: int, inventories: Mapping[str, Inventory]
    ) -> Provider:
        for rc, inv in inventories.items():
            validate_resource_class(rc)
            if not isinstance(inv, Inventory):
                raise InvalidInput(f"Inventory for {rc} must be an Inventory, got {inv!r}.")
        with self._db.write() as db:
            pid = _checked_provider(db, uuid, generation)
            rc_ids = _rc_ids(db, inventories)
            used = dict(
                db.execute("SELECT rc_id, used FROM inventories WHERE provider_id = ?", (pid,))
            )
            names = {i: n for n, i in db.execute("SELECT name, id FROM resource_classes")}
            refuse_shrink_below_use(uuid, {names[r]: n for r, n in used.items()}, inventories)
            keep = set(rc_ids.values())
            db.executemany(
                "DELETE FROM inventories WHERE provider_id = ? AND rc_id = ?",
                [(pid, r) for r in used if r not in keep],
            )
            db.executemany(
                "INSERT INTO inventories(provider_id, rc_id, total, reserved, min_unit, max_unit,"
                " step_size, allocation_ratio, capacity, shuffle) VALUES (?,?,?,?,?,?,?,?,?,"
                " (SELECT shuffle FROM providers WHERE id = ?))"
                " ON CONFLICT(provider_id, rc_id) DO UPDATE SET total=excluded.total,"
                " reserved=excluded.reserved, min_unit=excluded.min_unit,"
                " max_unit=excluded.max_unit, step_size=excluded.step_size,"
                " allocation_ratio=excluded.allocation_ratio, capacity=excluded.capacity",
                [
                    (
                        pid,
                        rc_ids[rc],
                        i.total,
                        i.reserved,
                        i.min_unit,
                        i.max_unit,
                        i.step_size,
                        float(i.allocation_ratio),
                        i.capacity,
                        pid,
                    )
                    for rc, i in inventories.items()
                ],
            )
            return _bump_and_load(db, pid)

    def set_traits(self, uuid: str, generation: int, traits: Iterable[str]) -> Provider:
        names = sorted({validate_trait(t) for t in traits})
        with self._db.write() as db:
            pid = _checked_provider(db, uuid, generation)
            ids = _trait_ids(db, names)
            db.execute("DELETE FROM provider_traits WHERE provider_id = ?", (pid,))
            db.executemany(
                "INSERT INTO provider_traits(provider_id, trait_id) VALUES (?, ?)",
                [(pid, i) for i in ids.values()],
            )
            return _bump_and_load(db, pid)

    def set_aggregates(self, uuid: str, generation: int, aggregates: Iterable[str]) -> Provider:
        aggs = sorted({validate_uuid(a, "aggregate uuid") for a in aggregates})
        with self._db.write() as db:
            pid = _checked_provider(db, uuid, generation)
            db.execute("DELETE FROM provider_aggregates WHERE provider_id = ?", (pid,))
            db.executemany(
                "INSERT INTO provider_aggregates(provider_id, aggregate) VALUES (?, ?)",
                [(pid, a) for a in aggs],
            )
            return _bump_and_load(db, pid)

    def find_providers(self, query: ProviderQuery) -> list[ProviderState]:
        with self._db.read() as db:
            rc_ids = _rc_ids(db, query.resources)
            trait_ids = _trait_ids(db, query.required_traits | query.forbidden_traits)
            root = None
            if query.in_tree is not None:
                root = _int(
                    db.execute(
                        "SELECT root_id FROM providers WHERE id = ?",
                        (_provider_id(db, query.in_tree),),
                    ).fetchone()[0]
                )
            fit = build_fit_sql(query, rc_ids, trait_ids, root, self._driver(db, query, rc_ids))
            if query.limit is None:
                ids = [r[0] for r in db.execute(fit.sql("ORDER BY p.id"), fit.params)]
            else:
                ids = _sample(db, fit, query.limit, query.seed)
            return _load_states(db, ids)

    def _driver(
        self, db: sqlite3.Connection, query: ProviderQuery, rc_ids: Mapping[str, int]
    ) -> str | None:
        """The requested class to walk first, or None where SQLite plans better alone: a
        name, uuid or tree narrows the query to a few providers through their indexes."""
        narrow = query.name is not None or query.uuids is not None or query.in_tree is not None
        if not rc_ids or narrow:
            return None
        return self._class_sizes.rarest(db, rc_ids)

    # -- records ---------------------------------------------------------------------

    def put_record(
        self,
        kind: str,
        key: str,
        value: Mapping[str, Any],
        expected_revision: int | None = None,
        ttl: float | None = None,
    ) -> Record:
        with self._db.write() as db:
            return records.put_record(db, kind, key, value, expected_revision, ttl)

    def get_record(self, kind: str, key: str) -> Record | None:
        with self._db.read() as db:
            return records.get_record(db, kind, key)

    def get_records(self, kind: str, keys: Iterable[str]) -> dict[str, Record]:
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        with self._db.read() as db:
            return records.get_records(db, kind, wanted)

    def list_records(self, kind: str, prefix: str = "", after_revision: int = 0) -> list[Record]:
        with self._db.read() as db:
            return records.list_records(db, kind, prefix, after_revision)

    def delete_record(self, kind: str, key: str, expected_revision: int | None = None) -> bool:
        with self._db.write() as db:
            return records.delete_record(db, kind, key, expected_revision)

    # -- consumers -----------------------------------------------------------------

    def _claim(
        self,
        consumer: Consumer,
        allocations: dict[str, dict[str, int]],
        provider_generations: dict[str, int],
    ) -> ClaimResult:
        try:
            with self._db.write() as db:
                return Claimed(_write_claim(db, consumer, allocations, provider_generations))
        except _Lost as lost:
            return lost.conflict

    def release(self, consumer_uuid: str, generation: int | None = None) -> None:
        with self._db.write() as db:
            row = db.execute(
                "SELECT id, generation FROM consumers WHERE uuid = ?", (consumer_uuid,)
            ).fetchone()
            if row is None:
                raise ConsumerNotFound(consumer_uuid)
            if generation is not None and generation != row[1]:
                raise GenerationConflict("Consumer", consumer_uuid, generation, row[1])
            _bump(db, _free(db, row[0]))
            db.execute("DELETE FROM consumers WHERE id = ?", (row[0],))

    def get_allocations(self, consumer_uuid: str) -> tuple[Consumer, dict[str, dict[str, int]]]:
        with self._db.read() as db:
            row = db.execute(
                "SELECT id, project_id, user_id, generation FROM consumers WHERE uuid = ?",
                (consumer_uuid,),
            ).fetchone()
            if row is None:
                raise ConsumerNotFound(consumer_uuid)
            out: dict[str, dict[str, int]] = {}
            for puuid, rc, amount in db.execute(
                "SELECT p.uuid, rc.name, a.amount FROM allocations a"
                " JOIN providers p ON p.id = a.provider_id"
                " JOIN resource_classes rc ON rc.id = a.rc_id WHERE a.consumer_id = ?",
                (row[0],),
            ):
                out.setdefault(puuid, {})[rc] = amount
            return Consumer(consumer_uuid, row[1], row[2], row[3]), out

    def provider_allocations(self, uuid: str) -> dict[str, dict[str, int]]:
        with self._db.read() as db:
            pid = _provider_id(db, uuid)
            out: dict[str, dict[str, int]] = {}
            for cuuid, rc, amount in db.execute(
                "SELECT c.uuid, rc.name, a.amount FROM allocations a"
                " JOIN consumers c ON c.id = a.consumer_id"
                " JOIN resource_classes rc ON rc.id = a.rc_id WHERE a.provider_id = ?",
                (pid,),
            ):
                out.setdefault(cuuid, {})[rc] = amount
            return out

    def usages(self, project_id: str, user_id: str | None = None) -> dict[str, int]:
        sql = (
            "SELECT rc.name, SUM(a.amount) FROM consumers c"
            " JOIN allocations a ON a.consumer_id = c.id"
            " JOIN resource_classes rc ON rc.id = a.rc_id WHERE c.project_id = ?"
        )
        params: list[object] = [project_id]
        if user_id is not None:
            sql += " AND c.user_id = ?"
            params.append(user_id)
        with self._db.read() as db:
            return {rc: int(n) for rc, n in db.execute(sql + " GROUP BY rc.name", params)}


# -- helpers that run inside a transaction ---------------------------------------------


def _int(value: object) -> int:
    assert isinstance(value, int), value
    return value


def _provider_id(db: sqlite3.Connection, uuid: str) -> int:
    row = db.execute("SELECT id FROM providers WHERE uuid = ?", (uuid,)).fetchone()
    if row is None:
        raise ProviderNotFound(uuid)
    return _int(row[0])


def _checked_provider(db: sqlite3.Connection, uuid: str, generation: int) -> int:
    row = db.execute("SELECT id, generation FROM providers WHERE uuid = ?", (uuid,)).fetchone()
    if row is None:
        raise ProviderNotFound(uuid)
    if row[1] != generation:
        raise GenerationConflict("Resource provider", uuid, generation, row[1])
    return _int(row[0])


def _name_ids(
    db: sqlite3.Connection, table: str, names: Iterable[str], missing: type[Exception]
) -> dict[str, int]:
    wanted = sorted(set(names))
    if not wanted:
        return {}
    marks = ",".join("?" * len(wanted))
    found = dict(db.execute(f"SELECT name, id FROM {table} WHERE name IN ({marks})", wanted))
    for name in wanted:
        if name not in found:
            raise missing(name)
    return found


def _rc_ids(db: sqlite3.Connection, names: Iterable[str]) -> dict[str, int]:
    return _name_ids(db, "resource_classes", names, ResourceClassNotFound)


def _trait_ids(db: sqlite3.Connection, names: Iterable[str]) -> dict[str, int]:
    return _name_ids(db, "traits", names, TraitNotFound)


def _bump(db: sqlite3.Connection, provider_ids: Iterable[int]) -> None:
    db.executemany(
        "UPDATE providers SET generation = generation + 1 WHERE id = ?",
        [(p,) for p in provider_ids],
    )


def _bump_and_load(db: sqlite3.Connection, pid: int) -> Provider:
    _bump(db, [pid])
    return _load_providers(db, [pid])[0]


def _sample(db: sqlite3.Connection, fit: FitSql, limit: int, seed: int | None) -> list[int]:
    """Up to ``limit`` fitting ids, walking the shuffled order from a seed-chosen start."""
    start = seed_start(seed) if seed is not None else random.randrange(SHUFFLE_SPAN)
    rank, params = fit.order, fit.params
    head = [
        r[0]
        for r in db.execute(
            fit.sql(f"AND {rank} >= ? ORDER BY {rank} LIMIT ?"), [*params, start, limit]
        )
    ]
    if len(head) == limit:
        return head
    tail = db.execute(
        fit.sql(f"AND {rank} < ? ORDER BY {rank} LIMIT ?"), [*params, start, limit - len(head)]
    )
    return head + [r[0] for r in tail]


def _load_providers(db: sqlite3.Connection, ids: Sequence[int]) -> list[Provider]:
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    found = {
        pid: Provider(uuid, name, gen, parent, root, _name_set(traits), _name_set(aggs))
        for pid, uuid, name, gen, parent, root, traits, aggs in db.execute(
            f"{_PROVIDER_SQL} WHERE p.id IN ({marks})", ids
        )
    }
    return [found[i] for i in ids]


def _load_states(db: sqlite3.Connection, ids: Sequence[int]) -> list[ProviderState]:
    providers = _load_providers(db, ids)
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    invs: dict[int, dict[str, Inventory]] = {}
    used: dict[int, dict[str, int]] = {}
    for row in db.execute(
        "SELECT i.provider_id, rc.name, i.total, i.reserved, i.min_unit, i.max_unit,"
        " i.step_size, i.allocation_ratio, i.used FROM inventories i"
        f" JOIN resource_classes rc ON rc.id = i.rc_id WHERE i.provider_id IN ({marks})",
        ids,
    ):
        invs.setdefault(row[0], {})[row[1]] = _inventory(*row[2:8])
        used.setdefault(row[0], {})[row[1]] = row[8]
    return [
        ProviderState(p, invs.get(i, {}), used.get(i, {}))
        for p, i in zip(providers, ids, strict=False)
    ]


# Both memos below hold immutable values that recur across thousands of providers (a
# cloud has a few host shapes): building and re-validating them on every candidate
# query was half its cost. The store validated them on the way in.


@functools.lru_cache(maxsize=4096)
def _inventory(
    total: int, reserved: int, min_unit: int, max_unit: int, step_size: int, ratio: float
) -> Inventory:
    return Inventory(total, reserved, min_unit, max_unit, step_size, ratio)


@functools.lru_cache(maxsize=4096)
def _name_set(joined: str | None) -> frozenset[str]:
    """A ``group_concat`` list as a set: trait names and aggregate uuids hold no comma."""
    return frozenset(joined.split(",")) if joined else frozenset()


def _free(db: sqlite3.Connection, consumer_id: int) -> set[int]:
    """Give back everything a consumer holds (inside the caller's transaction); returns
    the providers touched, whose generations the caller bumps once per change."""
    held = db.execute(
        "SELECT provider_id, rc_id, amount FROM allocations WHERE consumer_id = ?", (consumer_id,)
    ).fetchall()
    db.executemany(
        "UPDATE inventories SET used = used - ? WHERE provider_id = ? AND rc_id = ?",
        [(amount, pid, rc) for pid, rc, amount in held],
    )
    db.execute("DELETE FROM allocations WHERE consumer_id = ?", (consumer_id,))
    return {pid for pid, _, _ in held}


def _write_claim(
    db: sqlite3.Connection,
    consumer: Consumer,
    allocs: Mapping[str, Mapping[str, int]],
    expected_generations: Mapping[str, int],
) -> Consumer:
    row = db.execute(
        "SELECT id, generation FROM consumers WHERE uuid = ?", (consumer.uuid,)
    ).fetchone()
    lost = consumer_conflict(consumer, None if row is None else row[1])
    if lost is not None:
        raise _Lost(lost)
    providers = _claimed_providers(db, allocs, expected_generations)
    rc_ids = _rc_ids(db, {rc for per in allocs.values() for rc in per})
    touched = set(providers.values())
    if row is not None:
        touched |= _free(db, row[0])
        db.execute(
            "UPDATE consumers SET project_id = ?, user_id = ?, generation = generation + 1"
            " WHERE id = ?",
            (consumer.project_id, consumer.user_id, row[0]),
        )
        consumer_id, generation = _int(row[0]), _int(row[1]) + 1
    else:
        cur = db.execute(
            "INSERT INTO consumers(uuid, project_id, user_id, generation) VALUES (?,?,?,0)",
            (consumer.uuid, consumer.project_id, consumer.user_id),
        )
        consumer_id, generation = _int(cur.lastrowid), 0
    for puuid, per in allocs.items():
        _take(db, puuid, providers[puuid], {rc_ids[rc]: (rc, n) for rc, n in per.items()})
    db.executemany(
        "INSERT INTO allocations(consumer_id, provider_id, rc_id, amount) VALUES (?,?,?,?)",
        [
            (consumer_id, providers[p], rc_ids[rc], n)
            for p, per in allocs.items()
            for rc, n in per.items()
        ],
    )
    _bump(db, touched)
    return Consumer(consumer.uuid, consumer.project_id, consumer.user_id, generation)


def _claimed_providers(
    db: sqlite3.Connection,
    allocs: Mapping[str, Mapping[str, int]],
    expected: Mapping[str, int],
) -> dict[str, int]:
    uuids = sorted(allocs)
    marks = ",".join("?" * len(uuids))
    rows = {
        u: (i, g)
        for u, i, g in db.execute(
            f"SELECT uuid, id, generation FROM providers WHERE uuid IN ({marks})", uuids
        )
    }
    for puuid in uuids:
        if puuid not in rows:
            raise _Lost(ClaimConflict(ConflictKind.PROVIDER_GONE, puuid, detail="no such provider"))
        want = expected.get(puuid)
        if want is not None and want != rows[puuid][1]:
            raise _Lost(
                ClaimConflict(
                    ConflictKind.PROVIDER_GENERATION,
                    puuid,
                    detail=f"generation is {rows[puuid][1]}, not {want}",
                )
            )
    return {u: _int(rows[u][0]) for u in uuids}


def _take(
    db: sqlite3.Connection, puuid: str, pid: int, wanted: Mapping[int, tuple[str, int]]
) -> None:
    """Compare-and-set each amount onto its inventory row, or roll the claim back."""
    marks = ",".join("?" * len(wanted))
    invs = {
        r[0]: _inventory(*r[1:7])
        for r in db.execute(
            "SELECT rc_id, total, reserved, min_unit, max_unit, step_size, allocation_ratio"
            f" FROM inventories WHERE provider_id = ? AND rc_id IN ({marks})",
            [pid, *wanted],
        )
    }
    for rc_id, (rc, amount) in wanted.items():
        inv = invs.get(rc_id)
        if inv is None:
            raise _Lost(ClaimConflict(ConflictKind.NO_INVENTORY, puuid, rc, f"no {rc} inventory"))
        problem = inv.amount_problem(amount)
        if problem:
            raise InvalidInput(f"Cannot allocate {rc} on {puuid}: {problem}.")
        cur = db.execute(
            "UPDATE inventories SET used = used + ?"
            " WHERE provider_id = ? AND rc_id = ? AND used + ? <= capacity",
            (amount, pid, rc_id, amount),
        )
        if cur.rowcount != 1:
            raise _Lost(
                ClaimConflict(ConflictKind.CAPACITY, puuid, rc, f"{amount} {rc} no longer fits")
            )
