"""Versioned records on SQLite: a table, a store-wide revision counter, wall-clock TTLs.

Expiry uses the wall clock, which every process on the one machine that shares a
SQLite file agrees on; expired rows are hidden from reads and replaced on write.
"""

from __future__ import annotations

import json
import sqlite3
import time

from berthing.model import GenerationConflict, InvalidInput, JSONDoc

__all__ = ["delete_doc", "get_docs", "list_docs", "put_doc"]

_LIVE = "(expires_at IS NULL OR expires_at > ?)"


def _encode(doc: JSONDoc) -> str:
    try:
        return json.dumps(doc, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"Record value is not JSON-serializable: {exc}.") from exc


def _current(db: sqlite3.Connection, kind: str, key: str) -> int | None:
    row = db.execute(
        f"SELECT revision FROM records WHERE kind = ? AND key = ? AND {_LIVE}",
        (kind, key, time.time()),
    ).fetchone()
    return None if row is None else int(row[0])


def _check(kind: str, key: str, expected: int | None, actual: int | None) -> None:
    if expected != actual:
        raise GenerationConflict(f"Record {kind}", key, expected, actual)


def put_doc(
    db: sqlite3.Connection,
    kind: str,
    key: str,
    doc: JSONDoc,
    expected: int | None,
    ttl: float | None,
) -> int:
    text = _encode(doc)
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
    return revision


def get_docs(db: sqlite3.Connection, kind: str, keys: list[str]) -> dict[str, tuple[JSONDoc, int]]:
    marks = ",".join("?" * len(keys))
    rows = db.execute(
        f"SELECT key, value, revision FROM records WHERE kind = ? AND key IN ({marks})"
        f" AND {_LIVE}",
        (kind, *keys, time.time()),
    )
    return {k: (json.loads(v), rev) for k, v, rev in rows}


def list_docs(
    db: sqlite3.Connection, kind: str, prefix: str, after: int
) -> list[tuple[str, JSONDoc, int]]:
    # substr() rather than LIKE: keys may contain '_' and '%', which LIKE treats as wildcards.
    rows = db.execute(
        "SELECT key, value, revision FROM records WHERE kind = ? AND revision > ?"
        f" AND substr(key, 1, ?) = ? AND {_LIVE} ORDER BY key",
        (kind, after, len(prefix), prefix, time.time()),
    )
    return [(k, json.loads(v), rev) for k, v, rev in rows]


def delete_doc(db: sqlite3.Connection, kind: str, key: str, expected: int | None) -> bool:
    actual = _current(db, kind, key)
    if expected is not None:
        _check(kind, key, expected, actual)
    db.execute("DELETE FROM records WHERE kind = ? AND key = ?", (kind, key))
    return actual is not None
