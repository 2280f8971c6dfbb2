"""Versioned records on SQLite: a table, a store-wide revision counter, wall-clock TTLs.

Expiry uses the wall clock, which every process on the one machine that shares a
SQLite file agrees on; expired rows are hidden from reads and replaced on write.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping
from typing import Any

from berthing.model import GenerationConflict, InvalidInput, Record, validate_record_name

__all__ = [
    "delete_record",
    "encode",
    "get_record",
    "get_records",
    "list_records",
    "put_record",
]

_LIVE = "(expires_at IS NULL OR expires_at > ?)"


def encode(value: Mapping[str, Any]) -> str:
    try:
        return json.dumps(dict(value), sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"Record value is not JSON-serializable: {exc}.") from exc


def _record(kind: str, row: tuple[str, str, int]) -> Record:
    return Record(kind, row[0], json.loads(row[1]), row[2])


def _current(db: sqlite3.Connection, kind: str, key: str) -> int | None:
    row = db.execute(
        f"SELECT revision FROM records WHERE kind = ? AND key = ? AND {_LIVE}",
        (kind, key, time.time()),
    ).fetchone()
    return None if row is None else int(row[0])


def _check(kind: str, key: str, expected: int | None, actual: int | None) -> None:
    if expected != actual:
        raise GenerationConflict(f"Record {kind}", key, expected, actual)


def put_record(
    db: sqlite3.Connection,
    kind: str,
    key: str,
    value: Mapping[str, Any],
    expected: int | None,
    ttl: float | None,
) -> Record:
    validate_record_name("kind", kind)
    validate_record_name("key", key)
    if ttl is not None and not ttl > 0:
        raise InvalidInput(f"Record ttl must be positive seconds, got {ttl}.")
    text = encode(value)
    _check(kind, key, expected, _current(db, kind, key))
    revision = int(
        db.execute("UPDATE revision SET value = value + 1 RETURNING value").fetchone()[0]
    )
    expires = None if ttl is None else time.time() + ttl
    db.execute(
        "INSERT INTO records(kind, key, value, revision, expires_at) VALUES (?,?,?,?,?)"
        " ON CONFLICT(kind, key) DO UPDATE SET value = excluded.value,"
        " revision = excluded.revision, expires_at = excluded.expires_at",
        (kind, key, text, revision, expires),
    )
    return Record(kind, key, json.loads(text), revision)


def get_record(db: sqlite3.Connection, kind: str, key: str) -> Record | None:
    row = db.execute(
        f"SELECT key, value, revision FROM records WHERE kind = ? AND key = ? AND {_LIVE}",
        (kind, key, time.time()),
    ).fetchone()
    return None if row is None else _record(kind, row)


def get_records(db: sqlite3.Connection, kind: str, keys: list[str]) -> dict[str, Record]:
    marks = ",".join("?" * len(keys))
    rows = db.execute(
        f"SELECT key, value, revision FROM records WHERE kind = ? AND key IN ({marks})"
        f" AND {_LIVE}",
        (kind, *keys, time.time()),
    )
    return {r[0]: _record(kind, r) for r in rows}


def list_records(db: sqlite3.Connection, kind: str, prefix: str, after: int) -> list[Record]:
    # substr() rather than LIKE: keys may contain '_' and '%', which LIKE treats as wildcards.
    rows = db.execute(
        "SELECT key, value, revision FROM records WHERE kind = ? AND revision > ?"
        f" AND substr(key, 1, ?) = ? AND {_LIVE} ORDER BY key",
        (kind, after, len(prefix), prefix, time.time()),
    )
    return [_record(kind, r) for r in rows]


def delete_record(db: sqlite3.Connection, kind: str, key: str, expected: int | None) -> bool:
    actual = _current(db, kind, key)
    if expected is not None:
        _check(kind, key, expected, actual)
    db.execute("DELETE FROM records WHERE kind = ? AND key = ?", (kind, key))
    return actual is not None
