"""The record part of the store contract, against every backend."""

from __future__ import annotations

import threading
import time

import pytest

from berthing.model import GenerationConflict, InvalidInput
from berthing.store import Store


def test_create_read_replace_delete(store: Store) -> None:
    r = store.put_record("build", "cell1/req-1", {"state": "PENDING", "n": 1})
    assert r.revision > 0 and r.value == {"state": "PENDING", "n": 1}
    assert store.get_record("build", "cell1/req-1") == r
    r2 = store.put_record(
        "build", "cell1/req-1", {"state": "SCHEDULED"}, expected_revision=r.revision
    )
    assert r2.revision > r.revision
    assert store.delete_record("build", "cell1/req-1", expected_revision=r2.revision) is True
    assert store.get_record("build", "cell1/req-1") is None
    assert store.delete_record("build", "cell1/req-1") is False


def test_compare_and_set(store: Store) -> None:
    r = store.put_record("build", "a", {"v": 1})
    with pytest.raises(GenerationConflict):
        store.put_record("build", "a", {"v": 2})  # create-only: exists already
    store.put_record("build", "a", {"v": 2}, expected_revision=r.revision)
    with pytest.raises(GenerationConflict):
        store.put_record("build", "a", {"v": 3}, expected_revision=r.revision)  # stale
    with pytest.raises(GenerationConflict):
        store.put_record("build", "missing", {"v": 1}, expected_revision=5)
    with pytest.raises(GenerationConflict):
        store.delete_record("build", "a", expected_revision=r.revision)
    assert store.get_record("build", "a").value == {"v": 2}  # type: ignore[union-attr]


def test_one_of_two_racing_writers_wins(store: Store) -> None:
    r = store.put_record("build", "race", {"owner": None})
    winners: list[str] = []

    def advance(name: str) -> None:
        try:
            store.put_record("build", "race", {"owner": name}, expected_revision=r.revision)
            winners.append(name)
        except GenerationConflict:
            pass

    threads = [threading.Thread(target=advance, args=(f"t{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert store.get_record("build", "race").value == {"owner": winners[0]}  # type: ignore[union-attr]


def test_list_by_prefix_and_revision(store: Store) -> None:
    a = store.put_record("inst", "host-1/a", {})
    store.put_record("inst", "host-1/b", {})
    store.put_record("inst", "host-10/c", {})
    store.put_record("inst", "host-2/d", {})
    store.put_record("other", "host-1/e", {})
    assert [r.key for r in store.list_records("inst", "host-1/")] == ["host-1/a", "host-1/b"]
    assert [r.key for r in store.list_records("inst", "host-1")] == [
        "host-1/a",
        "host-1/b",
        "host-10/c",
    ]
    assert [r.key for r in store.list_records("inst", "host-1/", a.revision)] == ["host-1/b"]
    assert len(store.list_records("inst")) == 4


def test_prefix_is_literal(store: Store) -> None:
    store.put_record("inst", "a_b/x", {})
    store.put_record("inst", "aXb/y", {})
    assert [r.key for r in store.list_records("inst", "a_b/")] == ["a_b/x"]


def test_ttl_expires(store: Store) -> None:
    store.put_record("heartbeat", "host-1", {"at": 1}, ttl=1)
    store.put_record("heartbeat", "host-2", {"at": 1})
    assert store.get_record("heartbeat", "host-1") is not None
    deadline = time.monotonic() + 10
    while store.get_record("heartbeat", "host-1") is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert store.get_record("heartbeat", "host-1") is None
    assert [r.key for r in store.list_records("heartbeat")] == ["host-2"]
    store.put_record("heartbeat", "host-1", {"at": 2}, ttl=30)  # an expired key is free again


def test_watch_wakes_on_a_write(store: Store) -> None:
    start = store.put_record("inst", "host-1/a", {}).revision
    assert store.watch_records("inst", "host-1/", start, timeout=0.2) == []
    timer = threading.Timer(0.3, lambda: store.put_record("inst", "host-1/b", {"go": 1}))
    timer.start()
    try:
        found = store.watch_records("inst", "host-1/", start, timeout=10)
    finally:
        timer.join()
    assert [(r.key, r.value) for r in found] == [("host-1/b", {"go": 1})]


def test_bad_records(store: Store) -> None:
    with pytest.raises(InvalidInput, match="key"):
        store.put_record("build", "", {})
    with pytest.raises(InvalidInput, match="key"):
        store.put_record("build", "a b", {})
    with pytest.raises(InvalidInput, match="JSON"):
        store.put_record("build", "x", {"v": object()})
    with pytest.raises(InvalidInput, match="ttl"):
        store.put_record("build", "x", {}, ttl=0)
    assert store.get_record("build", "x") is None


def test_get_many(store: Store) -> None:
    store.put_record("stats", "a", {"n": 1})
    store.put_record("stats", "b", {"n": 2})
    got = store.get_records("stats", ["a", "b", "missing"])
    assert {k: r.value["n"] for k, r in got.items()} == {"a": 1, "b": 2}
    assert store.get_records("stats", []) == {}
