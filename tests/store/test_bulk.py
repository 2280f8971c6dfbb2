"""``Store.bulk()``: faster grouping of writes that changes no outcome.

Run against every backend: writes inside are all there afterwards, and a write that
fails inside (an exception or a lost claim) undoes only itself, never its neighbours.
"""

from __future__ import annotations

import pytest

from berthing.model import ClaimConflict, DuplicateName, Inventory, ProviderQuery
from berthing.store import Store, open_store
from berthing.store.audit import audit
from tests.helpers import consumer, host


def names(store: Store) -> list[str]:
    return [s.provider.name for s in store.find_providers(ProviderQuery())]


def test_writes_inside_bulk_are_all_visible_after(store: Store) -> None:
    with store.bulk():
        for i in range(20):
            host(store, f"h{i}", traits=["STORAGE_DISK_SSD"])
        assert len(names(store)) == 20  # reads inside see the block's own writes
    assert names(store) == [f"h{i}" for i in range(20)]
    assert store.get_provider_state(store.find_providers(ProviderQuery(name="h7"))[0].provider.uuid)
    assert audit(store) == []


def test_a_failing_write_inside_bulk_leaves_the_others_intact(store: Store) -> None:
    with store.bulk():
        first = host(store, "first")
        with pytest.raises(DuplicateName):
            store.create_provider("first")
        second = host(store, "second", {"VCPU": Inventory(8)})
        # Takes 1 VCPU from `first`, then finds `second` too small: the whole claim,
        # first half included, must roll back while the block goes on.
        lost = store.claim(consumer(), {first.uuid: {"VCPU": 1}, second.uuid: {"VCPU": 9}})
        assert isinstance(lost, ClaimConflict)
        assert store.claim(consumer(), {second.uuid: {"VCPU": 2}}).ok
    assert names(store) == ["first", "second"]
    assert store.get_provider_state(first.uuid).usages.get("VCPU", 0) == 0
    assert store.get_provider_state(second.uuid).usages["VCPU"] == 2
    assert audit(store) == []


def test_an_exception_escaping_bulk_keeps_what_was_written(store: Store) -> None:
    with pytest.raises(RuntimeError), store.bulk():
        host(store, "kept")
        raise RuntimeError("setup script failed half-way")
    assert names(store) == ["kept"]
    host(store, "after")  # the store is usable again: no transaction left open
    assert names(store) == ["kept", "after"]


def test_bulk_nests(store: Store) -> None:
    with store.bulk():
        host(store, "outer")
        with store.bulk():
            host(store, "inner")
        with pytest.raises(DuplicateName):
            store.create_provider("inner")
    assert names(store) == ["outer", "inner"]


def test_other_clients_see_bulk_writes_after_it(shared_store_url: str) -> None:
    with open_store(shared_store_url) as writer, open_store(shared_store_url) as reader:
        with writer.bulk():
            for i in range(5):
                host(writer, f"h{i}")
        assert names(reader) == [f"h{i}" for i in range(5)]
