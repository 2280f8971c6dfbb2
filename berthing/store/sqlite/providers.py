"""Providers, names and the candidate query on SQLite; each function runs inside the
caller's transaction (``Database.read()`` or ``.write()``)."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable, Mapping, Sequence

from berthing.model import (
    SHARING_TRAIT,
    DuplicateName,
    GenerationConflict,
    InUse,
    InvalidInput,
    Inventory,
    Provider,
    ProviderHasChildren,
    ProviderInUse,
    ProviderNotFound,
    ProviderQuery,
    ProviderState,
    ResourceClassNotFound,
    StoreShape,
    TraitNotFound,
    refuse_shrink_below_use,
)
from berthing.store.resources import NewParent
from berthing.store.sampling import new_rank, seed_start
from berthing.store.sqlite.fit import ClassSizes, FitSql, build_fit_sql

__all__ = [
    "NAME_TABLES",
    "bump",
    "checked_provider",
    "create",
    "delete",
    "delete_name",
    "find",
    "load_states",
    "provider_id",
    "rc_ids",
    "rename_class",
    "set_aggregates",
    "set_inventories",
    "set_traits",
    "shape",
]

#: The table of each kind of custom name, and its "not found" error.
NAME_TABLES: dict[str, tuple[str, type[ResourceClassNotFound | TraitNotFound]]] = {
    "class": ("resource_classes", ResourceClassNotFound),
    "trait": ("traits", TraitNotFound),
}

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


def as_int(value: object) -> int:
    assert isinstance(value, int), value
    return value


def provider_id(db: sqlite3.Connection, uuid: str) -> int:
    row = db.execute("SELECT id FROM providers WHERE uuid = ?", (uuid,)).fetchone()
    if row is None:
        raise ProviderNotFound(uuid)
    return as_int(row[0])


def checked_provider(db: sqlite3.Connection, uuid: str, generation: int) -> int:
    row = db.execute("SELECT id, generation FROM providers WHERE uuid = ?", (uuid,)).fetchone()
    if row is None:
        raise ProviderNotFound(uuid)
    if row[1] != generation:
        raise GenerationConflict("Resource provider", uuid, generation, row[1])
    return as_int(row[0])


def name_ids(db: sqlite3.Connection, kind: str, names: Iterable[str]) -> dict[str, int]:
    wanted = sorted(set(names))
    if not wanted:
        return {}
    table, missing = NAME_TABLES[kind]
    marks = ",".join("?" * len(wanted))
    found = dict(db.execute(f"SELECT name, id FROM {table} WHERE name IN ({marks})", wanted))
    for name in wanted:
        if name not in found:
            raise missing(name)
    return found


def rc_ids(db: sqlite3.Connection, names: Iterable[str]) -> dict[str, int]:
    return name_ids(db, "class", names)


def delete_name(db: sqlite3.Connection, kind: str, name: str) -> None:
    table, _ = NAME_TABLES[kind]
    name_id = name_ids(db, kind, [name])[name]
    users = "inventories WHERE rc_id" if kind == "class" else "provider_traits WHERE trait_id"
    if db.execute(f"SELECT 1 FROM {users} = ? LIMIT 1", (name_id,)).fetchone():
        raise InUse.name(kind, name)
    db.execute(f"DELETE FROM {table} WHERE id = ?", (name_id,))


def bump(db: sqlite3.Connection, provider_ids: Iterable[int]) -> None:
    db.executemany(
        "UPDATE providers SET generation = generation + 1 WHERE id = ?",
        [(p,) for p in provider_ids],
    )


def _bump_and_load(db: sqlite3.Connection, pid: int) -> Provider:
    bump(db, [pid])
    return load_providers(db, [pid])[0]


# -- writes --------------------------------------------------------------------------


def create(db: sqlite3.Connection, name: str, uuid: str, parent_uuid: str | None) -> Provider:
    for column, value in (("uuid", uuid), ("name", name)):
        if db.execute(f"SELECT 1 FROM providers WHERE {column} = ?", (value,)).fetchone():
            raise DuplicateName.provider(column, value)
    parent_id = root_id = None
    if parent_uuid is not None:
        row = db.execute(
            "SELECT id, root_id FROM providers WHERE uuid = ?", (parent_uuid,)
        ).fetchone()
        if row is None:
            raise InvalidInput(
                f"Parent provider {parent_uuid} does not exist.", hint="Create the parent first."
            )
        parent_id, root_id = row
    cur = db.execute(
        "INSERT INTO providers(uuid, name, parent_id, root_id, shuffle) VALUES (?,?,?,?,?)",
        (uuid, name, parent_id, root_id or 0, new_rank()),
    )
    if root_id is None:
        db.execute("UPDATE providers SET root_id = id WHERE id = ?", (cur.lastrowid,))
    return load_providers(db, [as_int(cur.lastrowid)])[0]


def update(
    db: sqlite3.Connection, uuid: str, name: str | None, parent: NewParent | None
) -> Provider:
    pid = provider_id(db, uuid)
    if name is not None:
        taken = db.execute("SELECT 1 FROM providers WHERE name = ? AND id != ?", (name, pid))
        if taken.fetchone():
            raise DuplicateName.rename(name)
        db.execute("UPDATE providers SET name = ? WHERE id = ?", (name, pid))
    if parent is not None:
        _move(db, pid, uuid, parent.uuid)
    return load_providers(db, [pid])[0]


def _move(db: sqlite3.Connection, pid: int, uuid: str, parent_uuid: str | None) -> None:
    """Put provider ``pid`` under ``parent_uuid`` (None: a root), its subtree with it."""
    subtree = [
        as_int(r[0])
        for r in db.execute(
            "WITH RECURSIVE sub(id) AS (SELECT ? UNION ALL"
            " SELECT p.id FROM providers p JOIN sub ON p.parent_id = sub.id) SELECT id FROM sub",
            (pid,),
        )
    ]
    parent_id, root_id = None, pid
    if parent_uuid is not None:
        row = db.execute(
            "SELECT id, root_id FROM providers WHERE uuid = ?", (parent_uuid,)
        ).fetchone()
        if row is None:
            raise InvalidInput(
                f"Parent provider {parent_uuid} does not exist.", hint="Create it first."
            )
        parent_id, root_id = as_int(row[0]), as_int(row[1])
        if parent_id in subtree:
            raise InvalidInput(
                f"Provider {uuid} cannot move under {parent_uuid}, which is in its own subtree.",
                hint="Move the descendant out first, or choose another parent.",
            )
    db.execute("UPDATE providers SET parent_id = ? WHERE id = ?", (parent_id, pid))
    db.executemany("UPDATE providers SET root_id = ? WHERE id = ?", [(root_id, i) for i in subtree])


def delete(db: sqlite3.Connection, uuid: str) -> None:
    pid = provider_id(db, uuid)
    if db.execute("SELECT 1 FROM providers WHERE parent_id = ?", (pid,)).fetchone():
        raise ProviderHasChildren(uuid)
    if db.execute("SELECT 1 FROM allocations WHERE provider_id = ?", (pid,)).fetchone():
        raise ProviderInUse(uuid)
    db.execute("DELETE FROM providers WHERE id = ?", (pid,))


def set_inventories(
    db: sqlite3.Connection,
    uuid: str,
    generation: int,
    inventories: Mapping[str, Inventory],
    below_use: bool = False,
) -> Provider:
    pid = checked_provider(db, uuid, generation)
    ids = rc_ids(db, inventories)
    used = dict(db.execute("SELECT rc_id, used FROM inventories WHERE provider_id = ?", (pid,)))
    names = {i: n for n, i in db.execute("SELECT name, id FROM resource_classes")}
    refuse_shrink_below_use(uuid, {names[r]: n for r, n in used.items()}, inventories, below_use)
    keep = set(ids.values())
    db.executemany(
        "DELETE FROM inventories WHERE provider_id = ? AND rc_id = ?",
        [(pid, r) for r in used if r not in keep],
    )
    write_inventories(db, pid, {ids[rc]: inv for rc, inv in inventories.items()})
    return _bump_and_load(db, pid)


def write_inventories(
    db: sqlite3.Connection,
    pid: int,
    inventories: Mapping[int, Inventory],
    used: Mapping[int, int] | None = None,
) -> None:
    """Insert or update inventory rows by class id. Each row keeps its ``used`` unless
    ``used`` says otherwise: a reshape sets both at once, or the row's CHECK would see
    the new capacity with the old usage."""
    keep_used = used is None
    db.executemany(
        "INSERT INTO inventories(provider_id, rc_id, total, reserved, min_unit, max_unit,"
        " step_size, allocation_ratio, capacity, used, shuffle) VALUES (?,?,?,?,?,?,?,?,?,?,"
        " (SELECT shuffle FROM providers WHERE id = ?))"
        " ON CONFLICT(provider_id, rc_id) DO UPDATE SET total=excluded.total,"
        " reserved=excluded.reserved, min_unit=excluded.min_unit,"
        " max_unit=excluded.max_unit, step_size=excluded.step_size,"
        " allocation_ratio=excluded.allocation_ratio, capacity=excluded.capacity,"
        f" used={'used' if keep_used else 'excluded.used'}",
        [
            (
                pid,
                rc_id,
                i.total,
                i.reserved,
                i.min_unit,
                i.max_unit,
                i.step_size,
                float(i.allocation_ratio),
                i.capacity,
                0 if used is None else used.get(rc_id, 0),
                pid,
            )
            for rc_id, i in inventories.items()
        ],
    )


def set_traits(db: sqlite3.Connection, uuid: str, generation: int, traits: list[str]) -> Provider:
    pid = checked_provider(db, uuid, generation)
    ids = name_ids(db, "trait", traits)
    db.execute("DELETE FROM provider_traits WHERE provider_id = ?", (pid,))
    db.executemany(
        "INSERT INTO provider_traits(provider_id, trait_id) VALUES (?, ?)",
        [(pid, i) for i in ids.values()],
    )
    return _bump_and_load(db, pid)


def set_aggregates(
    db: sqlite3.Connection,
    uuid: str,
    generation: int,
    aggregates: list[str],
    bump_generation: bool = True,
) -> Provider:
    pid = checked_provider(db, uuid, generation)
    db.execute("DELETE FROM provider_aggregates WHERE provider_id = ?", (pid,))
    db.executemany(
        "INSERT INTO provider_aggregates(provider_id, aggregate) VALUES (?, ?)",
        [(pid, a) for a in aggregates],
    )
    return _bump_and_load(db, pid) if bump_generation else load_providers(db, [pid])[0]


def rename_class(db: sqlite3.Connection, old: str, new: str) -> None:
    old_id = name_ids(db, "class", [old])[old]
    if db.execute("SELECT 1 FROM resource_classes WHERE name = ?", (new,)).fetchone():
        raise DuplicateName(f"Resource class {new} exists already.", hint="Pick another name.")
    if db.execute("SELECT 1 FROM inventories WHERE rc_id = ? LIMIT 1", (old_id,)).fetchone():
        raise InUse(f"{old} is used by inventories.", hint="Only an unused class can be renamed.")
    db.execute("UPDATE resource_classes SET name = ? WHERE id = ?", (new, old_id))


# -- reads ---------------------------------------------------------------------------


def shape(db: sqlite3.Connection) -> StoreShape:
    nested, sharing = db.execute(
        "SELECT EXISTS (SELECT 1 FROM providers WHERE parent_id IS NOT NULL),"
        " EXISTS (SELECT 1 FROM provider_traits pt JOIN traits t ON t.id = pt.trait_id"
        " WHERE t.name = ?)",
        (SHARING_TRAIT,),
    ).fetchone()
    return StoreShape(bool(nested), bool(sharing))


def find(db: sqlite3.Connection, query: ProviderQuery, sizes: ClassSizes) -> list[ProviderState]:
    ids = rc_ids(db, query.resources)
    trait_ids = name_ids(db, "trait", query.trait_names)
    root = None
    if query.in_tree is not None:
        row = db.execute(
            "SELECT root_id FROM providers WHERE id = ?", (provider_id(db, query.in_tree),)
        ).fetchone()
        root = as_int(row[0])
    fit = build_fit_sql(query, ids, trait_ids, root, _driver(db, query, ids, sizes))
    if query.limit is None:
        found = [r[0] for r in db.execute(fit.sql("ORDER BY p.id"), fit.params)]
    else:
        found = _sample(db, fit, query.limit, query.seed)
    return load_states(db, found)


def _driver(
    db: sqlite3.Connection, query: ProviderQuery, ids: Mapping[str, int], sizes: ClassSizes
) -> str | None:
    """The requested class to walk first, or None where SQLite plans better alone: a
    name, uuid or tree narrows the query to a few providers through their indexes."""
    narrow = query.name is not None or query.uuids is not None or query.in_tree is not None
    narrow = narrow or query.roots is not None
    if not ids or narrow:
        return None
    return sizes.rarest(db, ids)


def _sample(db: sqlite3.Connection, fit: FitSql, limit: int, seed: int | None) -> list[int]:
    """Up to ``limit`` fitting ids, walking the shuffled order from a seed-chosen start."""
    start = seed_start(seed)
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


def load_providers(db: sqlite3.Connection, ids: Sequence[int]) -> list[Provider]:
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


def load_states(db: sqlite3.Connection, ids: Sequence[int]) -> list[ProviderState]:
    providers = load_providers(db, ids)
    invs, used = load_inventories(db, ids)
    return [
        ProviderState(p, invs.get(i, {}), used.get(i, {}))
        for p, i in zip(providers, ids, strict=True)
    ]


def load_inventories(
    db: sqlite3.Connection, ids: Sequence[int]
) -> tuple[dict[int, dict[str, Inventory]], dict[int, dict[str, int]]]:
    """Inventories and usage per provider id."""
    invs: dict[int, dict[str, Inventory]] = {}
    used: dict[int, dict[str, int]] = {}
    if not ids:
        return invs, used
    marks = ",".join("?" * len(ids))
    for row in db.execute(
        "SELECT i.provider_id, rc.name, i.total, i.reserved, i.min_unit, i.max_unit,"
        " i.step_size, i.allocation_ratio, i.used FROM inventories i"
        f" JOIN resource_classes rc ON rc.id = i.rc_id WHERE i.provider_id IN ({marks})",
        ids,
    ):
        invs.setdefault(row[0], {})[row[1]] = _inventory(*row[2:8])
        used.setdefault(row[0], {})[row[1]] = row[8]
    return invs, used


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
