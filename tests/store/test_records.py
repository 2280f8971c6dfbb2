"""The record part of the store contract, against every backend."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest

from berthing.model import GenerationConflict, InvalidInput
from berthing.store import Store


@dataclass(frozen=True, slots=True)
class Doc:
    """A record kind for these tests: any JSON-able fields."""

    KIND: ClassVar[str] = "build"
    SCHEMA: ClassVar[int] = 1

    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Inst(Doc):
    KIND: ClassVar[str] = "inst"


@dataclass(frozen=True, slots=True)
class Other(Doc):
    KIND: ClassVar[str] = "other"


@dataclass(frozen=True, slots=True)
class Beat(Doc):
    KIND: ClassVar[str] = "heartbeat"


@dataclass(frozen=True, slots=True)
class Stats(Doc):
    KIND: ClassVar[str] = "stats"


KINDS = {"build": Doc, "inst": Inst, "other": Other, "heartbeat": Beat, "stats": Stats}


def put(store: Store, kind: str, key: str, value: Mapping[str, Any], *a: Any, **kw: Any) -> Any:
    return store.put_record(key, KINDS[kind](value), *a, **kw)


def get(store: Store, kind: str, key: str) -> Any:
    return store.get_record(KINDS[kind], key)


def value(rec: Any) -> Any:
    return None if rec is None else dict(rec.value.fields)


def test_create_read_replace_delete(store: Store) -> None:
    r = put(store, "build", "cell1/req-1", {"state": "PENDING", "n": 1})
    assert r.revision > 0 and value(r) == {"state": "PENDING", "n": 1}
    assert get(store, "build", "cell1/req-1") == r
    r2 = put(store, "build", "cell1/req-1", {"state": "SCHEDULED"}, expected_revision=r.revision)
    assert r2.revision > r.revision
    assert store.delete_record(KINDS["build"], "cell1/req-1", expected_revision=r2.revision) is True
    assert get(store, "build", "cell1/req-1") is None
    assert store.delete_record(KINDS["build"], "cell1/req-1") is False


def test_compare_and_set(store: Store) -> None:
    r = put(store, "build", "a", {"v": 1})
    with pytest.raises(GenerationConflict):
        put(store, "build", "a", {"v": 2})  # create-only: exists already
    put(store, "build", "a", {"v": 2}, expected_revision=r.revision)
    with pytest.raises(GenerationConflict):
        put(store, "build", "a", {"v": 3}, expected_revision=r.revision)  # stale
    with pytest.raises(GenerationConflict):
        put(store, "build", "missing", {"v": 1}, expected_revision=5)
    with pytest.raises(GenerationConflict):
        store.delete_record(KINDS["build"], "a", expected_revision=r.revision)
    assert value(get(store, "build", "a")) == {"v": 2}


def test_one_of_two_racing_writers_wins(store: Store) -> None:
    r = put(store, "build", "race", {"owner": None})
    winners: list[str] = []

    def advance(name: str) -> None:
        try:
            put(store, "build", "race", {"owner": name}, expected_revision=r.revision)
            winners.append(name)
        except GenerationConflict:
            pass

    threads = [threading.Thread(target=advance, args=(f"t{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert value(get(store, "build", "race")) == {"owner": winners[0]}


def test_list_by_prefix_and_revision(store: Store) -> None:
    a = put(store, "inst", "host-1/a", {})
    put(store, "inst", "host-1/b", {})
    put(store, "inst", "host-10/c", {})
    put(store, "inst", "host-2/d", {})
    put(store, "other", "host-1/e", {})
    assert [r.key for r in store.list_records(KINDS["inst"], "host-1/")] == ["host-1/a", "host-1/b"]
    assert [r.key for r in store.list_records(KINDS["inst"], "host-1")] == [
        "host-1/a",
        "host-1/b",
        "host-10/c",
    ]
    assert [r.key for r in store.list_records(KINDS["inst"], "host-1/", a.revision)] == ["host-1/b"]
    assert len(store.list_records(KINDS["inst"])) == 4


def test_prefix_is_literal(store: Store) -> None:
    put(store, "inst", "a_b/x", {})
    put(store, "inst", "aXb/y", {})
    assert [r.key for r in store.list_records(KINDS["inst"], "a_b/")] == ["a_b/x"]


def test_ttl_expires(store: Store) -> None:
    put(store, "heartbeat", "host-1", {"at": 1}, ttl=1)
    put(store, "heartbeat", "host-2", {"at": 1})
    assert get(store, "heartbeat", "host-1") is not None
    deadline = time.monotonic() + 10
    while get(store, "heartbeat", "host-1") is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert get(store, "heartbeat", "host-1") is None
    assert [r.key for r in store.list_records(KINDS["heartbeat"])] == ["host-2"]
    put(store, "heartbeat", "host-1", {"at": 2}, ttl=30)  # an expired key is free again


def test_watch_wakes_on_a_write(store: Store) -> None:
    start = put(store, "inst", "host-1/a", {}).revision
    assert store.watch_records(KINDS["inst"], "host-1/", start, timeout=0.2) == []
    timer = threading.Timer(0.3, lambda: put(store, "inst", "host-1/b", {"go": 1}))
    timer.start()
    try:
        found = store.watch_records(KINDS["inst"], "host-1/", start, timeout=10)
    finally:
        timer.join()
    assert [(r.key, value(r)) for r in found] == [("host-1/b", {"go": 1})]


def test_bad_records(store: Store) -> None:
    with pytest.raises(InvalidInput, match="key"):
        put(store, "build", "", {})
    with pytest.raises(InvalidInput, match="key"):
        put(store, "build", "a b", {})
    with pytest.raises(InvalidInput, match="JSON"):
        put(store, "build", "x", {"v": object()})
    with pytest.raises(InvalidInput, match="ttl"):
        put(store, "build", "x", {}, ttl=0)
    assert get(store, "build", "x") is None


def test_get_many(store: Store) -> None:
    put(store, "stats", "a", {"n": 1})
    put(store, "stats", "b", {"n": 2})
    got = store.get_records(KINDS["stats"], ["a", "b", "missing"])
    assert {k: value(r)["n"] for k, r in got.items()} == {"a": 1, "b": 2}
    assert store.get_records(KINDS["stats"], []) == {}


def test_get_many_across_many_groups(store: Store) -> None:
    """Keys of many groups at once (hashed and per-host ones, more than one request's
    worth on Cassandra): each record found with its own value, absent keys left out."""
    keys = [f"s{i}" for i in range(12)] + [f"host{i}/x" for i in range(11)]
    for i, key in enumerate(keys):
        put(store, "stats", key, {"n": i})
    wanted = [*keys, "absent", "host3/absent", "host99/x", keys[0]]
    got = store.get_records(KINDS["stats"], wanted)
    assert {k: value(r)["n"] for k, r in got.items()} == {k: i for i, k in enumerate(keys)}
