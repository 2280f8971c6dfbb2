"""Records: JSON documents with a store-wide revision, compare-and-set, TTL, polling.

A record lives in the partition of its *group*: the first part of its key before a
``/`` (``<host>/<instance>`` records of one host share one partition, as do a cell's
build requests), or one of ``HASHED`` partitions for keys without one. A write is one
LWT on that partition comparing the record's revision (the contract's
compare-and-set) and the group's last revision, and writing both. The new revision is
the hybrid clock (``layout.after``): above the record's and the group's previous
revisions and otherwise the wall clock in microseconds, so revisions rise store-wide
with real time.

**Watching** is polling (Cassandra has no watch). Within one group, revisions are
assigned in commit order (every write compares the group's last one), so a poll of a
prefix inside one group (an agent watching ``<host>/``) never misses a write. Across
groups two writers' revisions may be committed out of order by a few milliseconds, so
a listing that spans groups returns, after a revision, only records at least
``SETTLE`` old; a write whose LWT itself took longer than ``REISSUE`` is written once
more under a fresh revision, so it cannot hide behind records already returned. The
``record_groups`` directory (each group's latest revision, a plain write made before
the record's LWT) lets such a listing read only the groups that changed.

TTLs are Cassandra's own (whole seconds, rounded up): an expired record is gone for
every reader at once, even if no berthing process runs.
"""

from __future__ import annotations

import math
import zlib

from berthing.model import GenerationConflict, JSONDoc, validate_record_name
from berthing.store.cassandra.layout import after, dumps, loads, now_us
from berthing.store.cassandra.session import Cql, Query, Row

__all__ = ["HASHED", "REISSUE", "SETTLE", "Records"]

#: Partitions per kind for keys without a '/'.
HASHED = 16
#: Seconds a record must have existed before a listing across groups returns it.
SETTLE = 0.5
#: A write whose LWT took longer than this (seconds) is written again with a fresh revision.
REISSUE = 0.3

_WHERE = "WHERE store = ? AND kind = ? AND grp = ?"
_ROW = f"SELECT key, doc, revision, op FROM records {_WHERE} AND key = ?"
_GRP = f"SELECT grp_rev FROM records {_WHERE} PER PARTITION LIMIT 1"
_PUT_GRP = f"UPDATE records SET grp_rev = ? {_WHERE} IF grp_rev = ?"
_PUT_ROW = (
    f"UPDATE records USING TTL ? SET doc = ?, revision = ?, op = ? {_WHERE} AND key = ? "
    "IF revision = ?"
)
_DELETE = f"DELETE FROM records {_WHERE} AND key = ? IF revision = ?"
_MANY = f"SELECT key, doc, revision FROM records {_WHERE} AND key IN ?"
_ALL = f"SELECT key, doc, revision FROM records {_WHERE}"
_RANGE = f"SELECT key, doc, revision FROM records {_WHERE} AND key >= ? AND key < ?"
_DIRECTORY = "SELECT grp, last_rev FROM record_groups WHERE store = ? AND kind = ?"
_DIRECTORY_PUT = (
    "UPDATE record_groups USING TIMESTAMP ? SET last_rev = ? WHERE store = ? AND kind = ? "
    "AND grp = ?"
)

Doc = tuple[str, JSONDoc, int]


def group_of(key: str) -> str:
    head, sep, _ = key.partition("/")
    if sep and head:
        return head
    return f"#{zlib.crc32(key.encode()) % HASHED:02d}"


class Records:
    def __init__(self, cql: Cql, store: str) -> None:
        self.cql, self.store = cql, store

    # -- writes ---------------------------------------------------------------------------

    def put(
        self, kind: str, key: str, doc: JSONDoc, expected: int | None, ttl: float | None, op: str
    ) -> int:
        validate_record_name("kind", kind)
        revision = self._put(kind, key, dumps(doc), expected, ttl, op)
        if now_us() - revision > REISSUE * 1e6:
            # Landed late: a listing across groups may have moved past its revision.
            revision = self._put(kind, key, dumps(doc), revision, ttl, op + "-again")
        return revision

    def _put(
        self, kind: str, key: str, text: str, expected: int | None, ttl: float | None, op: str
    ) -> int:
        grp = group_of(key)
        seconds = 0 if ttl is None else max(1, math.ceil(ttl))
        while True:
            # The directory first: a listing that skips this group must not skip this write.
            bound = now_us() + int(SETTLE * 1e6)
            where = (self.store, kind, grp)
            row, grp_rev = self._read(kind, grp, key, (_DIRECTORY_PUT, (bound, bound, *where)))
            current = None if row is None else int(row["revision"])
            if row is not None and row["op"] == op:
                return int(row["revision"])  # our earlier attempt landed
            if expected != current:
                raise GenerationConflict(f"Record {kind}", key, expected, current)
            revision = after(max(grp_rev or 0, current or 0))
            queries: list[Query] = [
                (_PUT_GRP, (revision, *where, grp_rev)),
                (_PUT_ROW, (seconds, text, revision, op, *where, key, expected)),
            ]
            result = self.cql.cas(queries, f"writing record {kind}/{key}")
            if result is not None and result.applied:
                return revision
            # Lost to another write in the group, or unknown: read again and decide.

    def _read(self, kind: str, grp: str, key: str, side: Query) -> tuple[Row | None, int | None]:
        """The record and its group's revision, read while ``side`` is written."""
        where = (self.store, kind, grp)
        rows, grp_rows, _ = self.cql.reads(
            [(_ROW, (*where, key)), (_GRP, where), side], "reading a record"
        )
        row = rows[0] if rows else None
        grp_rev = grp_rows[0]["grp_rev"] if grp_rows else None
        return row, None if grp_rev is None else int(grp_rev)

    def delete(self, kind: str, key: str, expected: int | None) -> bool:
        grp = group_of(key)
        where = (self.store, kind, grp)
        while True:
            rows = self.cql.read(_ROW, (*where, key), "reading a record")
            if not rows:
                return False
            current = int(rows[0]["revision"])
            if expected is not None and expected != current:
                raise GenerationConflict(f"Record {kind}", key, expected, current)
            result = self.cql.cas([(_DELETE, (*where, key, current))], f"deleting {kind}/{key}")
            if result is not None and result.applied:
                return True
            if result is None and not self.cql.serial_read(_ROW, (*where, key), "resolving"):
                return True

    # -- reads ----------------------------------------------------------------------------

    def get(self, kind: str, keys: list[str]) -> dict[str, tuple[JSONDoc, int]]:
        by_group: dict[str, list[str]] = {}
        for key in keys:
            by_group.setdefault(group_of(key), []).append(key)
        queries = [(_MANY, (self.store, kind, g, ks)) for g, ks in sorted(by_group.items())]
        found = {}
        for rows in self.cql.reads(queries, "reading records"):
            for row in rows:
                if row["revision"] is not None:
                    found[str(row["key"])] = (_doc(kind, row), int(row["revision"]))
        return found

    def listing(self, kind: str, prefix: str, after_rev: int) -> list[Doc]:
        groups, exact = self._groups(kind, prefix, after_rev)
        queries = [self._scan(kind, g, prefix) for g in groups]
        horizon = None if exact or after_rev <= 0 else now_us() - int(SETTLE * 1e6)
        out = []
        for rows in self.cql.reads(queries, "listing records"):
            for row in rows:
                if row["key"] is None or row["revision"] is None:
                    continue  # a partition holding only its group revision, or an expired record
                key, revision = str(row["key"]), int(row["revision"])
                if not key.startswith(prefix) or revision <= after_rev:
                    continue
                if horizon is not None and revision > horizon:
                    continue  # not settled yet: the next poll returns it
                out.append((key, _doc(kind, row), revision))
        return sorted(out, key=lambda d: d[0])

    def _groups(self, kind: str, prefix: str, after_rev: int) -> tuple[list[str], bool]:
        """The groups a listing must read, and whether it is one group (exact order)."""
        head, sep, _ = prefix.partition("/")
        if sep and head:
            return [head], True
        rows = self.cql.read(_DIRECTORY, (self.store, kind), "listing record groups")
        return [
            str(r["grp"])
            for r in rows
            if int(r["last_rev"] or 0) > after_rev
            and (str(r["grp"]).startswith("#") or str(r["grp"]).startswith(prefix))
        ], False

    def _scan(self, kind: str, grp: str, prefix: str) -> Query:
        where = (self.store, kind, grp)
        if not prefix:
            return (_ALL, where)
        return (_RANGE, (*where, prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)))


def _doc(kind: str, row: Row) -> JSONDoc:
    doc = loads(row["doc"], f"record {kind}/{row['key']}")
    return doc if isinstance(doc, dict) else {}
