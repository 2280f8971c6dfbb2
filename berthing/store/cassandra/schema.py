"""The tables, schema version 1 (docs/cassandra.md has the full description).

Every partition key starts with ``store`` (the URL's store name), so one keyspace holds
many independent stores. What one lightweight transaction must change together lives
in one partition:

* ``providers``: one partition per provider. Its static columns are the provider
  (generation, inventories, usage, traits, aggregates, tree links, a freeze for
  multi-provider changes, and ``version``, the hybrid-clock time of its last write,
  which every LWT on it compares). Its rows are the allocations against it
  (``kind='a'``, id = consumer) and one marker per operation that wrote it
  (``kind='x'``, id = operation id, an hour's TTL), by which an operation recognises
  its own write after an unknown outcome and by which recovery fences a dead writer.
* ``consumers``: one partition per consumer: what it holds (committed) and, while a
  change is in flight, the pending change (``pclaim``, ``pplan``).
* ``intents``: the decision of a multi-provider change, written once (LWT).
* ``pnames``/``names``: provider names, and custom classes and traits with their users.
* ``catalogue``/``feed``: every provider's state after each write, for the in-memory
  catalogue of every store process (plain writes, newest version wins).
* ``records``/``record_groups``: typed records, one partition per kind and key group.
"""

from __future__ import annotations

from berthing.model import NotFound, StoreCorrupt
from berthing.store.cassandra.session import Cql

__all__ = ["LAYOUT_VERSION", "TABLES", "check_layout", "ensure_schema"]

LAYOUT_VERSION = 1
_CREATE = "CREATE TABLE IF NOT EXISTS "

#: Every table: a read whose replica has not answered within 200 ms is sent to another
#: replica as well. Cassandra's default (99p) starts from half the read timeout on a
#: coordinator that has not read the table yet: from a node's death until its peers
#: convicted it, each QUORUM read of ``consumers`` (a release reads one) that picked the
#: dead replica waited 5 s (measured under the storm of tests/store/test_cassandra_faults.py).
#: ``MIN(99p,200ms)`` keeps that start too (Cassandra's HybridSpeculativeRetryPolicy
#: returns the existing value while it has no latency sample): a fixed value does not.
SPECULATIVE_RETRY = "200ms"

_TABLES: dict[str, str] = {
    "meta": """
        CREATE TABLE IF NOT EXISTS meta (
            store text PRIMARY KEY, layout int, written_by text)""",
    "providers": """
        CREATE TABLE IF NOT EXISTS providers (
            store text, uuid text, kind text, id text,
            version bigint static, generation bigint static,
            name text static, parent text static, root text static,
            traits frozen<set<text>> static, aggregates frozen<set<text>> static,
            shuffle bigint static, created bigint static,
            inventories text static, used frozen<map<text, bigint>> static,
            children frozen<set<text>> static,
            frozen text static, frozen_at bigint static, frozen_by text static,
            amounts text, state text,
            PRIMARY KEY ((store, uuid), kind, id))
        WITH gc_grace_seconds = 86400""",
    "consumers": """
        CREATE TABLE IF NOT EXISTS consumers (
            store text, uuid text,
            claim text, generation bigint, project text, user_id text, ctype text,
            allocations text,
            pclaim text, pplan text, pstarted bigint,
            PRIMARY KEY ((store, uuid)))
        WITH gc_grace_seconds = 86400""",
    "intents": """
        CREATE TABLE IF NOT EXISTS intents (
            store text, id text, state text, plan text,
            PRIMARY KEY ((store, id)))
        WITH default_time_to_live = 86400 AND gc_grace_seconds = 3600""",
    "projects": """
        CREATE TABLE IF NOT EXISTS projects (
            store text, project text, user_id text, consumer text,
            PRIMARY KEY ((store, project), user_id, consumer))
        WITH gc_grace_seconds = 86400""",
    "pnames": """
        CREATE TABLE IF NOT EXISTS pnames (
            store text, name text, uuid text, op text,
            PRIMARY KEY ((store, name)))
        WITH gc_grace_seconds = 86400""",
    "names": """
        CREATE TABLE IF NOT EXISTS names (
            store text, kind text, name text, op text, users set<text>,
            PRIMARY KEY ((store, kind), name))
        WITH gc_grace_seconds = 86400""",
    "catalogue": """
        CREATE TABLE IF NOT EXISTS catalogue (
            store text, bucket int, uuid text, state text,
            PRIMARY KEY ((store, bucket), uuid))
        WITH gc_grace_seconds = 86400""",
    "feed": """
        CREATE TABLE IF NOT EXISTS feed (
            store text, slot bigint, version bigint, uuid text, state text,
            PRIMARY KEY ((store, slot), version, uuid))
        WITH default_time_to_live = 900 AND gc_grace_seconds = 600
        AND compaction = {'class': 'TimeWindowCompactionStrategy',
                          'compaction_window_unit': 'HOURS', 'compaction_window_size': 1}""",
    "records": """
        CREATE TABLE IF NOT EXISTS records (
            store text, kind text, grp text, key text,
            grp_rev bigint static,
            doc text, revision bigint, op text,
            PRIMARY KEY ((store, kind, grp), key))
        WITH gc_grace_seconds = 86400""",
    "record_groups": """
        CREATE TABLE IF NOT EXISTS record_groups (
            store text, kind text, grp text, last_rev bigint,
            PRIMARY KEY ((store, kind), grp))
        WITH gc_grace_seconds = 86400""",
}


def _with_retry(cql: str) -> str:
    joiner = "AND" if " WITH " in cql else "WITH"
    return f"{cql}\n        {joiner} speculative_retry = '{SPECULATIVE_RETRY}'"


TABLES: dict[str, str] = {name: _with_retry(cql) for name, cql in _TABLES.items()}


def ensure_schema(cql: Cql, keyspace: str, replication: int) -> None:
    """Create the keyspace and the tables that are missing (once per keyspace; schema
    changes wait for every node to agree, which takes seconds)."""
    found = cql.read(
        "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?", (keyspace,)
    )
    missing = set(TABLES) - {r["table_name"] for r in found}
    if not missing:
        cql.use(keyspace)
        return
    cql.ddl(
        f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = "
        f"{{'class': 'SimpleStrategy', 'replication_factor': {replication}}}"
    )
    cql.use(keyspace)
    for name in sorted(missing):
        # Named with its keyspace: schema statements are not prepared, so the keyspace
        # ``use`` chose does not apply to them.
        cql.ddl(TABLES[name].replace(_CREATE, f"{_CREATE}{keyspace}.", 1))


def require_store(cql: Cql, keyspace: str, store: str) -> None:
    """``NotFound`` unless a berthing store named ``store`` exists in ``keyspace``: for
    commands that inspect a store (``berthing check``) and must not create an empty one."""
    found = cql.read(
        "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?", (keyspace,)
    )
    if {r["table_name"] for r in found} >= set(TABLES):
        cql.use(keyspace)
        if cql.read("SELECT layout FROM meta WHERE store = ?", (store,)):
            return
    raise NotFound(
        f"No berthing store {store!r} in keyspace {keyspace!r} on this Cassandra cluster.",
        hint="Check the URL (cassandra://hosts/KEYSPACE/STORE): berthing demo writes to "
        "demo-<time>-<run> and prints it.",
    )


def check_layout(cql: Cql, store: str) -> None:
    """Mark a new store with this layout; refuse one written by another layout."""
    result = cql.cas(
        [
            (
                "INSERT INTO meta (store, layout, written_by) VALUES (?, ?, 'berthing') "
                "IF NOT EXISTS",
                (store, LAYOUT_VERSION),
            )
        ],
        "opening the store",
    )
    layout = LAYOUT_VERSION if result is None or result.applied else result.row.get("layout")
    if result is None:
        rows = cql.serial_read("SELECT layout FROM meta WHERE store = ?", (store,), "opening")
        layout = rows[0]["layout"] if rows else LAYOUT_VERSION
    if layout != LAYOUT_VERSION:
        raise StoreCorrupt(
            f"Store {store!r} says layout {layout!r}; this berthing reads layout {LAYOUT_VERSION}.",
            hint="Use the berthing version that wrote this store, or another store name.",
        )
