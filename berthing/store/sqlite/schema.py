"""Versioned schema of the SQLite store.

Each migration is applied once, in order, inside the same transaction that records
its version, so a crash mid-migration leaves the previous version intact.
Append new migrations; never edit a released one.
"""

from __future__ import annotations

import sqlite3

from berthing.model import STANDARD_RESOURCE_CLASSES, STANDARD_TRAITS, StoreCorrupt

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "migrate"]

_V1 = """
CREATE TABLE resource_classes (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE traits (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE providers (
    id         INTEGER PRIMARY KEY,
    uuid       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL UNIQUE,
    generation INTEGER NOT NULL DEFAULT 0,
    parent_id  INTEGER REFERENCES providers(id),
    root_id    INTEGER NOT NULL,
    -- A fixed random rank: seeded candidate queries start at a random point of this
    -- order so that parallel schedulers look at different slices of the cloud.
    shuffle    INTEGER NOT NULL
);
CREATE INDEX ix_providers_shuffle ON providers(shuffle);
CREATE INDEX ix_providers_root ON providers(root_id);
CREATE INDEX ix_providers_parent ON providers(parent_id);

-- Usage lives on the inventory row and is kept current inside every claim
-- transaction, so the fit query never scans allocations. The CHECKs make the
-- engine itself refuse an over-allocated row, whatever the code above it does.
CREATE TABLE inventories (
    provider_id      INTEGER NOT NULL REFERENCES providers(id) ON DELETE CASCADE,
    rc_id            INTEGER NOT NULL REFERENCES resource_classes(id),
    total            INTEGER NOT NULL,
    reserved         INTEGER NOT NULL,
    min_unit         INTEGER NOT NULL,
    max_unit         INTEGER NOT NULL,
    step_size        INTEGER NOT NULL,
    allocation_ratio REAL NOT NULL,
    capacity         INTEGER NOT NULL,
    used             INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (provider_id, rc_id),
    CHECK (used >= 0),
    CHECK (used <= capacity)
) WITHOUT ROWID;
CREATE INDEX ix_inventories_free ON inventories(rc_id, capacity - used);

CREATE TABLE provider_traits (
    provider_id INTEGER NOT NULL REFERENCES providers(id) ON DELETE CASCADE,
    trait_id    INTEGER NOT NULL REFERENCES traits(id),
    PRIMARY KEY (provider_id, trait_id)
) WITHOUT ROWID;
CREATE INDEX ix_provider_traits_trait ON provider_traits(trait_id);

CREATE TABLE provider_aggregates (
    provider_id INTEGER NOT NULL REFERENCES providers(id) ON DELETE CASCADE,
    aggregate   TEXT NOT NULL,
    PRIMARY KEY (provider_id, aggregate)
) WITHOUT ROWID;
CREATE INDEX ix_provider_aggregates_agg ON provider_aggregates(aggregate);

CREATE TABLE consumers (
    id         INTEGER PRIMARY KEY,
    uuid       TEXT NOT NULL UNIQUE,
    project_id TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    generation INTEGER NOT NULL
);
CREATE INDEX ix_consumers_project ON consumers(project_id, user_id);

CREATE TABLE allocations (
    consumer_id INTEGER NOT NULL REFERENCES consumers(id),
    provider_id INTEGER NOT NULL REFERENCES providers(id),
    rc_id       INTEGER NOT NULL REFERENCES resource_classes(id),
    amount      INTEGER NOT NULL CHECK (amount > 0),
    PRIMARY KEY (consumer_id, provider_id, rc_id)
) WITHOUT ROWID;
CREATE INDEX ix_allocations_provider ON allocations(provider_id);
"""


def _apply(db: sqlite3.Connection, script: str) -> None:
    # Statement by statement: executescript() would COMMIT the caller's transaction.
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _v1(db: sqlite3.Connection) -> None:
    _apply(db, _V1)
    db.executemany(
        "INSERT INTO resource_classes(name) VALUES (?)", [(n,) for n in STANDARD_RESOURCE_CLASSES]
    )
    db.executemany("INSERT INTO traits(name) VALUES (?)", [(n,) for n in STANDARD_TRAITS])


_V2 = """
CREATE TABLE records (
    kind       TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    revision   INTEGER NOT NULL,
    expires_at REAL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE INDEX ix_records_revision ON records(kind, revision);
-- One store-wide counter, as etcd's revision: every record write takes the next value.
CREATE TABLE revision (value INTEGER NOT NULL);
INSERT INTO revision(value) VALUES (0);
"""


def _v2(db: sqlite3.Connection) -> None:
    _apply(db, _V2)


# The candidate query walks the rows of one requested class in the providers' fixed
# random order (see fit.py), so each inventory row carries its provider's rank, which
# never changes after creation. That index replaces ix_inventories_free: sorting every
# provider with free room cost O(providers) per query, and the free index also cost
# an update on every claim.
_V3 = """
ALTER TABLE inventories ADD COLUMN shuffle INTEGER NOT NULL DEFAULT 0;
UPDATE inventories
   SET shuffle = (SELECT p.shuffle FROM providers p WHERE p.id = inventories.provider_id);
CREATE INDEX ix_inventories_walk ON inventories(rc_id, shuffle);
DROP INDEX ix_inventories_free;
"""


def _v3(db: sqlite3.Connection) -> None:
    _apply(db, _V3)


# Placement 1.38 gives every consumer a type (INSTANCE, MIGRATION...); NULL reads as
# "unknown", which is what Placement reports for consumers written before it.
_V4 = """
ALTER TABLE consumers ADD COLUMN consumer_type TEXT;
"""


def _v4(db: sqlite3.Connection) -> None:
    _apply(db, _V4)


# Placement lets an operator shrink an inventory below what is allocated (a host lost
# memory; its instances stay), so the row may hold used > capacity. Claims still never
# go over: they write usage with a conditional UPDATE checked by row count. SQLite
# cannot drop a CHECK, so the table is rebuilt (inside the migration's transaction).
_V5 = """
CREATE TABLE inventories_v5 (
    provider_id      INTEGER NOT NULL REFERENCES providers(id) ON DELETE CASCADE,
    rc_id            INTEGER NOT NULL REFERENCES resource_classes(id),
    total            INTEGER NOT NULL,
    reserved         INTEGER NOT NULL,
    min_unit         INTEGER NOT NULL,
    max_unit         INTEGER NOT NULL,
    step_size        INTEGER NOT NULL,
    allocation_ratio REAL NOT NULL,
    capacity         INTEGER NOT NULL,
    used             INTEGER NOT NULL DEFAULT 0,
    shuffle          INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (provider_id, rc_id),
    CHECK (used >= 0)
) WITHOUT ROWID;
INSERT INTO inventories_v5 SELECT provider_id, rc_id, total, reserved, min_unit, max_unit,
    step_size, allocation_ratio, capacity, used, shuffle FROM inventories;
DROP TABLE inventories;
ALTER TABLE inventories_v5 RENAME TO inventories;
CREATE INDEX ix_inventories_walk ON inventories(rc_id, shuffle);
"""


def _v5(db: sqlite3.Connection) -> None:
    _apply(db, _V5)


MIGRATIONS = (_v1, _v2, _v3, _v4, _v5)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: sqlite3.Connection, path: str) -> None:
    """Bring the schema to ``SCHEMA_VERSION``; the caller holds a write transaction."""
    db.execute("CREATE TABLE IF NOT EXISTS berthing_schema (version INTEGER NOT NULL)")
    row = db.execute("SELECT version FROM berthing_schema").fetchone()
    current = 0 if row is None else int(row[0])
    if current > SCHEMA_VERSION:
        raise StoreCorrupt(
            f"{path} has schema version {current}, newer than this berthing "
            f"understands ({SCHEMA_VERSION}).",
            hint="Upgrade berthing, or point --store at another file.",
        )
    for migration in MIGRATIONS[current:]:
        migration(db)
    # The standard names come from os-traits and os-resource-classes, which add names in
    # new releases: a store opened by a newer berthing learns them.
    db.executemany(
        "INSERT OR IGNORE INTO resource_classes(name) VALUES (?)",
        [(n,) for n in STANDARD_RESOURCE_CLASSES],
    )
    db.executemany("INSERT OR IGNORE INTO traits(name) VALUES (?)", [(n,) for n in STANDARD_TRAITS])
    if row is None:
        db.execute("INSERT INTO berthing_schema(version) VALUES (?)", (SCHEMA_VERSION,))
    elif current != SCHEMA_VERSION:
        db.execute("UPDATE berthing_schema SET version = ?", (SCHEMA_VERSION,))
