"""Claims, releases and allocation reads on SQLite, inside the caller's transaction.

A commit runs in one ``BEGIN IMMEDIATE`` transaction: the write lock is held from the
first read, so the snapshot it decides on (``store.decide``) is the truth when it
writes. Each usage still goes in as a conditional ``UPDATE`` that only lets it rise up
to capacity, checked by row count: two locks on one door, because an over-allocation
is the one mistake a scheduler must never make. (Usage may sit above capacity only
after an operator shrank the inventory, as Placement allows; a claim never puts it
there.)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

from berthing.model import (
    AllocationChange,
    Claimed,
    ClaimResult,
    Consumer,
    ConsumerNotFound,
    GenerationConflict,
    Inventory,
    StoreCorrupt,
    TypeUsage,
)
from berthing.store.decide import Decision, Held, Snapshot, decide, providers_involved
from berthing.store.sqlite.providers import (
    as_int,
    bump,
    load_inventories,
    provider_id,
    rc_ids,
    write_inventories,
)

__all__ = ["commit", "consumer_allocations", "provider_allocations", "release", "usages"]

_CONSUMER_SQL = (
    "SELECT id, project_id, user_id, generation, consumer_type FROM consumers WHERE uuid = ?"
)


def commit(db: sqlite3.Connection, change: AllocationChange) -> ClaimResult:
    held = {ca.consumer.uuid: _held(db, ca.consumer.uuid) for ca in change.consumers}
    ids = _provider_ids(db, providers_involved(change, held))
    decision = decide(change, held, _snapshots(db, ids))
    if not isinstance(decision, Decision):
        return decision
    _write(db, change, decision, ids)
    return Claimed(decision.consumers)


def release(db: sqlite3.Connection, uuid: str, generation: int | None) -> None:
    row = db.execute("SELECT id, generation FROM consumers WHERE uuid = ?", (uuid,)).fetchone()
    if row is None:
        raise ConsumerNotFound(uuid)
    if generation is not None and generation != row[1]:
        raise GenerationConflict("Consumer", uuid, generation, row[1])
    bump(db, _free(db, row[0]))
    db.execute("DELETE FROM consumers WHERE id = ?", (row[0],))


def consumer_allocations(
    db: sqlite3.Connection, uuid: str
) -> tuple[Consumer, dict[str, dict[str, int]]]:
    held = _held(db, uuid)
    if held is None:
        raise ConsumerNotFound(uuid)
    return held.consumer, {p: dict(per) for p, per in held.allocations.items()}


def provider_allocations(db: sqlite3.Connection, uuid: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for cuuid, rc, amount in db.execute(
        "SELECT c.uuid, rc.name, a.amount FROM allocations a"
        " JOIN consumers c ON c.id = a.consumer_id"
        " JOIN resource_classes rc ON rc.id = a.rc_id WHERE a.provider_id = ?",
        (provider_id(db, uuid),),
    ):
        out.setdefault(cuuid, {})[rc] = amount
    return out


def usages(db: sqlite3.Connection, project_id: str, user_id: str | None) -> list[TypeUsage]:
    where, params = "c.project_id = ?", [project_id]
    if user_id is not None:
        where, params = where + " AND c.user_id = ?", [project_id, user_id]
    counts = dict(
        db.execute(
            f"SELECT c.consumer_type, count(*) FROM consumers c WHERE {where}"
            " GROUP BY c.consumer_type",
            params,
        )
    )
    amounts: dict[str | None, dict[str, int]] = {}
    for ctype, rc, n in db.execute(
        "SELECT c.consumer_type, rc.name, SUM(a.amount) FROM consumers c"
        " JOIN allocations a ON a.consumer_id = c.id"
        f" JOIN resource_classes rc ON rc.id = a.rc_id WHERE {where}"
        " GROUP BY c.consumer_type, rc.name",
        params,
    ):
        amounts.setdefault(ctype, {})[rc] = int(n)
    return [TypeUsage(t, int(n), amounts.get(t, {})) for t, n in sorted(counts.items(), key=str)]


# -- reading the snapshot ---------------------------------------------------------------


def _held(db: sqlite3.Connection, uuid: str) -> Held | None:
    row = db.execute(_CONSUMER_SQL, (uuid,)).fetchone()
    if row is None:
        return None
    allocations: dict[str, dict[str, int]] = {}
    for puuid, rc, amount in db.execute(
        "SELECT p.uuid, rc.name, a.amount FROM allocations a"
        " JOIN providers p ON p.id = a.provider_id"
        " JOIN resource_classes rc ON rc.id = a.rc_id WHERE a.consumer_id = ?",
        (row[0],),
    ):
        allocations.setdefault(puuid, {})[rc] = amount
    return Held(Consumer(uuid, row[1], row[2], row[3], row[4]), allocations)


def _provider_ids(db: sqlite3.Connection, uuids: set[str]) -> dict[str, tuple[int, int]]:
    """uuid -> (id, generation) of those that exist."""
    wanted = sorted(uuids)
    marks = ",".join("?" * len(wanted))
    rows = db.execute(f"SELECT uuid, id, generation FROM providers WHERE uuid IN ({marks})", wanted)
    return {u: (as_int(i), as_int(g)) for u, i, g in rows}


def _snapshots(
    db: sqlite3.Connection, ids: Mapping[str, tuple[int, int]]
) -> dict[str, Snapshot | None]:
    invs, used = load_inventories(db, [i for i, _ in ids.values()])
    return {
        u: Snapshot(generation, invs.get(pid, {}), used.get(pid, {}))
        for u, (pid, generation) in ids.items()
    }


# -- writing the decision ----------------------------------------------------------------


def _write(
    db: sqlite3.Connection,
    change: AllocationChange,
    decision: Decision,
    ids: Mapping[str, tuple[int, int]],
) -> None:
    classes = rc_ids(db, {rc for per in decision.used.values() for rc in per})
    classes.update(rc_ids(db, {rc for invs in decision.inventories.values() for rc in invs}))
    for ca, new in zip(change.consumers, decision.consumers, strict=True):
        cid = _drop_allocations(db, ca.consumer.uuid)
        if new.generation is None:
            if cid is not None:
                db.execute("DELETE FROM consumers WHERE id = ?", (cid,))
            continue
        cid = _upsert_consumer(db, cid, new)
        db.executemany(
            "INSERT INTO allocations(consumer_id, provider_id, rc_id, amount) VALUES (?,?,?,?)",
            [
                (cid, ids[p][0], classes[rc], n)
                for p, per in ca.allocations.items()
                for rc, n in per.items()
            ],
        )
    for uuid in sorted(decision.touched):
        pid = ids[uuid][0]
        used = {classes[rc]: n for rc, n in decision.used[uuid].items()}
        invs = decision.inventories.get(uuid)
        if invs is None:
            _set_used(db, pid, used)
        else:
            _replace_inventories(db, pid, {classes[rc]: inv for rc, inv in invs.items()}, used)
    bump(db, [ids[u][0] for u in decision.touched])


def _replace_inventories(
    db: sqlite3.Connection, pid: int, invs: Mapping[int, Inventory], used: Mapping[int, int]
) -> None:
    marks = ",".join("?" * len(invs)) or "NULL"
    db.execute(
        f"DELETE FROM inventories WHERE provider_id = ? AND rc_id NOT IN ({marks})",
        [pid, *invs],
    )
    write_inventories(db, pid, invs, used)


def _drop_allocations(db: sqlite3.Connection, uuid: str) -> int | None:
    row = db.execute("SELECT id FROM consumers WHERE uuid = ?", (uuid,)).fetchone()
    if row is None:
        return None
    db.execute("DELETE FROM allocations WHERE consumer_id = ?", (row[0],))
    return as_int(row[0])


def _upsert_consumer(db: sqlite3.Connection, cid: int | None, c: Consumer) -> int:
    if cid is not None:
        db.execute(
            "UPDATE consumers SET project_id = ?, user_id = ?, generation = ?,"
            " consumer_type = ? WHERE id = ?",
            (c.project_id, c.user_id, c.generation, c.consumer_type, cid),
        )
        return cid
    cur = db.execute(
        "INSERT INTO consumers(uuid, project_id, user_id, generation, consumer_type)"
        " VALUES (?,?,?,?,?)",
        (c.uuid, c.project_id, c.user_id, c.generation, c.consumer_type),
    )
    return as_int(cur.lastrowid)


def _set_used(db: sqlite3.Connection, pid: int, used: Mapping[int, int]) -> None:
    """The decided usage, written as a compare-and-set: it may rise only up to capacity
    (falling is always allowed). A row that would go over is a bug in the decision, and
    the engine refuses it rather than store it."""
    for rc_id, n in used.items():
        cur = db.execute(
            "UPDATE inventories SET used = ? WHERE provider_id = ? AND rc_id = ?"
            " AND (? <= capacity OR ? <= used)",
            (n, pid, rc_id, n, n),
        )
        if cur.rowcount != 1 and n:
            raise StoreCorrupt(f"Usage {n} of class id {rc_id} on provider id {pid} has no room.")


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
