"""What only the etcd store has: URLs, the key layout, one-transaction claims, the
watched catalogue, leases. All against the session's real 3-member cluster."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from berthing.devtools.etcd_cluster import EtcdCluster, wait_until
from berthing.model import (
    ClaimConflict,
    Claimed,
    ConflictKind,
    Heartbeat,
    HostStats,
    InvalidInput,
    Inventory,
    ProviderQuery,
    StoreCorrupt,
)
from berthing.store import Capability, RecordStore, Store, open_store
from berthing.store.audit import audit
from berthing.store.etcd.backend import EtcdStore
from berthing.store.etcd.kv import KV, _Retry
from tests.helpers import consumer, host


@pytest.fixture
def prefix(etcd_cluster: EtcdCluster) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:12]}"
    yield name
    etcd_cluster.delete_prefix(f"/{name}/")


@pytest.fixture
def store(etcd_cluster: EtcdCluster, prefix: str) -> Iterator[EtcdStore]:
    s = open_store(etcd_cluster.url(prefix))
    assert isinstance(s, EtcdStore)
    yield s
    s.close()


# -- URLs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("etcd://", "No etcd endpoints"),
        ("etcd://localhost", "not host:port"),
        ("etcd://h:99999", "not host:port"),
        ("etcd://h:1/a//b", "prefix"),
        ("etcd://h:1/ok?timeout=0", "timeout"),
        ("etcd://h:1/ok?retries=3", "Unknown option"),
    ],
)
def test_bad_urls_are_refused_before_connecting(url: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        open_store(url)


def test_prefixes_isolate_stores(etcd_cluster: EtcdCluster, store: EtcdStore) -> None:
    host(store, "mine")
    other_prefix = f"t-{uuid.uuid4().hex[:12]}"
    with open_store(etcd_cluster.url(other_prefix)) as other:
        assert other.find_providers(ProviderQuery()) == []
        host(other, "mine")  # the same name is free under another prefix
    etcd_cluster.delete_prefix(f"/{other_prefix}/")
    assert [s.provider.name for s in store.find_providers(ProviderQuery())] == ["mine"]


# -- the key layout ---------------------------------------------------------------------


def test_documented_key_layout(etcd_cluster: EtcdCluster, prefix: str, store: EtcdStore) -> None:
    store.ensure_resource_class("CUSTOM_GOLD")
    p = host(store, "h1", {"VCPU": Inventory(8), "CUSTOM_GOLD": Inventory(1)})
    c = consumer("proj", "alice")
    assert store.claim(c, {p.uuid: {"VCPU": 2}}).ok
    store.put_record("cell1/req-1", Heartbeat("h1", 1.0))
    root = f"/{prefix}/v1/"
    keys = set(etcd_cluster.scan(root))
    assert keys == {
        f"{root}schema",
        f"{root}cat/providers/{p.uuid}",
        f"{root}cat/inventories/{p.uuid}",
        f"{root}cat/usages/{p.uuid}",
        f"{root}cat/classes/CUSTOM_GOLD",
        f"{root}names/h1",
        f"{root}class_use/CUSTOM_GOLD/{p.uuid}",
        f"{root}consumers/{c.uuid}",
        f"{root}allocations/{p.uuid}/{c.uuid}",
        f"{root}projects/proj/alice/{c.uuid}",
        f"{root}records/heartbeat/cell1/req-1",
    }
    assert json.loads(etcd_cluster.scan(f"{root}schema")[f"{root}schema"]["value"]) == {
        "layout": 1,
        "written_by": "berthing",
    }


def test_a_newer_layout_is_refused(etcd_cluster: EtcdCluster, prefix: str) -> None:
    etcd_cluster.put(f"/{prefix}/v1/schema", b'{"layout": 2}')
    with pytest.raises(StoreCorrupt, match="layout 2"):
        open_store(etcd_cluster.url(prefix))


def test_a_foreign_document_is_named(
    etcd_cluster: EtcdCluster, prefix: str, store: EtcdStore
) -> None:
    p = store.create_provider("h1")
    key = f"/{prefix}/v1/cat/providers/{p.uuid}"
    etcd_cluster.put(key, b"not json")
    with pytest.raises(StoreCorrupt, match=key) as err:
        store.get_provider(p.uuid)
    assert "own prefix" in str(err.value)


# -- claims -----------------------------------------------------------------------------


def test_a_claim_is_one_transaction(
    etcd_cluster: EtcdCluster, prefix: str, store: EtcdStore
) -> None:
    a = host(store, "a", {"VCPU": Inventory(4)})
    b = host(store, "b", {"DISK_GB": Inventory(100)})
    c = consumer()
    assert store.claim(c, {a.uuid: {"VCPU": 2}, b.uuid: {"DISK_GB": 10}}).ok
    written = {
        k: v["mod_revision"]
        for k, v in etcd_cluster.scan(f"/{prefix}/v1/").items()
        if c.uuid in k or "usages" in k or "providers" in k
    }
    assert len(written) == 8  # 2 usages, 2 providers, 2 allocations, consumer, project
    assert len(set(written.values())) == 1, "every key of a claim has the same revision"


def test_racing_claims_retry_unrelated_changes_and_lose_real_ones(store: EtcdStore) -> None:
    """Twelve threads each claim 1 of 8 VCPUs at once: every claim's compare races the
    others, yet exactly 8 land (a failed compare with room left is retried inside) and
    4 get a typed CAPACITY conflict (a real one), never an exception."""
    p = host(store, "h", {"VCPU": Inventory(8)})
    results: list[object] = []
    barrier = threading.Barrier(12)

    def claim() -> None:
        barrier.wait()
        results.append(store.claim(consumer(), {p.uuid: {"VCPU": 1}}))

    threads = [threading.Thread(target=claim) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(isinstance(r, Claimed) for r in results) == 8
    lost = [r for r in results if isinstance(r, ClaimConflict)]
    assert len(lost) == 4 and {r.kind for r in lost} == {ConflictKind.CAPACITY}
    assert store.get_provider(p.uuid).generation == p.generation + 8
    assert audit(store) == []


# -- the catalogue ----------------------------------------------------------------------


def test_a_stale_catalogue_costs_a_conflict_never_an_over_allocation(
    etcd_cluster: EtcdCluster, prefix: str
) -> None:
    with (
        open_store(etcd_cluster.url(prefix)) as reader,
        open_store(etcd_cluster.url(prefix)) as writer,
    ):
        assert isinstance(reader, EtcdStore)
        full = host(writer, "full", {"VCPU": Inventory(4)})
        wait_until(lambda: len(reader.find_providers(ProviderQuery())) == 1, 5, "no sync")
        reader._catalogue.stop()  # the reader's index now goes stale
        assert writer.claim(consumer(), {full.uuid: {"VCPU": 4}}).ok
        host(writer, "new")
        # A fresh query reads etcd: `full` is full.
        assert reader.find_providers(ProviderQuery({"VCPU": 1}, fresh=True)) == []
        # The hot path answers from the stale index, which still thinks `full` has room:
        # the claim on it is decided on etcd's values and loses, as a conflict.
        [stale] = reader.find_providers(ProviderQuery({"VCPU": 1}))
        lost = reader.claim(consumer(), {stale.provider.uuid: {"VCPU": 1}})
        assert isinstance(lost, ClaimConflict) and lost.kind is ConflictKind.CAPACITY
        # What the stale index costs besides: a provider it has not heard of is missed.
        assert [s.provider.name for s in reader.find_providers(ProviderQuery())] == ["full"]
        reader._catalogue.resume()
        wait_until(
            lambda: len(reader.find_providers(ProviderQuery({"VCPU": 1}))) == 1,
            5,
            "the catalogue did not catch up after resuming",
        )
        assert audit(reader) == []


def test_catalogue_relists_after_compaction(etcd_cluster: EtcdCluster, prefix: str) -> None:
    with (
        open_store(etcd_cluster.url(prefix)) as reader,
        open_store(etcd_cluster.url(prefix)) as writer,
    ):
        assert isinstance(reader, EtcdStore)
        catalogue = reader._catalogue
        lists = catalogue.relists
        catalogue.stop()
        host(writer, "while-away")
        etcd_cluster.compact()  # the history the reader would resume from is gone
        catalogue.resume()
        wait_until(
            lambda: [s.provider.name for s in reader.find_providers(ProviderQuery())]
            == ["while-away"],
            10,
            "the catalogue did not relist after compaction",
        )
        assert catalogue.relists == lists + 1


# -- records ----------------------------------------------------------------------------


def test_ttl_records_use_leases_and_outlive_their_writer(
    etcd_cluster: EtcdCluster, prefix: str, store: Store
) -> None:
    with open_store(etcd_cluster.url(prefix)) as dying_host:
        dying_host.put_record("host-1", Heartbeat("host-1", 1.0), ttl=1)
    key = f"/{prefix}/v1/records/heartbeat/host-1"
    assert etcd_cluster.scan(key)[key]["lease"] != 0
    # The writer is gone; etcd itself drops the heartbeat when its lease runs out.
    wait_until(lambda: store.get_record(Heartbeat, "host-1") is None, 5, "no expiry")


def test_watch_records_is_a_real_watch(store: EtcdStore) -> None:
    assert type(store)._watch_docs is not RecordStore._watch_docs
    assert Capability.NATIVE_WATCH in store.capabilities


# -- a write whose answer is lost -------------------------------------------------------


_REAL_ATTEMPT = KV._attempt


def lossy_writes(store: EtcdStore, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make the store's next write transaction land in etcd but lose its answer, as
    when a connection breaks right after the server applied it. Returns a list that
    gets one item when that has happened."""
    dropped: list[int] = []

    async def attempt(self: KV, call: Any, endpoint: str, timeout: float) -> Any:
        answer = await _REAL_ATTEMPT(self, call, endpoint, timeout)
        wrote = any(
            r.WhichOneof("response") in ("response_put", "response_delete_range")
            for r in getattr(answer, "responses", [])
        )
        if wrote and self is store._kv and not dropped:
            dropped.append(1)
            raise _Retry("connection reset after the write landed", maybe_applied=True)
        return answer

    monkeypatch.setattr(KV, "_attempt", attempt)
    return dropped


def test_a_lost_answer_is_retried_without_applying_twice(
    store: EtcdStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = host(store, "h", {"VCPU": Inventory(8)})
    c = consumer()
    dropped = lossy_writes(store, monkeypatch)
    result = store.claim(c, {p.uuid: {"VCPU": 3}})
    assert dropped == [1], "the claim's answer was not dropped: the test proves nothing"
    # The retry's compare failed (the first attempt had landed); the re-decision found
    # the claim's own token and reported success, not CONSUMER_GENERATION.
    assert isinstance(result, Claimed) and result.consumer.generation == 0
    assert store.get_provider_state(p.uuid).usages["VCPU"] == 3  # taken once
    assert store.get_provider(p.uuid).generation == p.generation + 1
    assert audit(store) == []

    dropped = lossy_writes(store, monkeypatch)
    record = store.put_record("r1", Heartbeat("r1", 1.0))
    assert dropped == [1]
    assert store.get_record(Heartbeat, "r1") == record

    dropped = lossy_writes(store, monkeypatch)
    store.release(c.uuid)  # landed, answer lost, retried: still no ConsumerNotFound
    assert dropped == [1]
    assert store.get_provider_state(p.uuid).usages["VCPU"] == 0


def test_host_stats_are_advice_served_from_a_watched_copy(
    etcd_cluster: EtcdCluster, prefix: str
) -> None:
    with (
        open_store(etcd_cluster.url(prefix)) as reader,
        open_store(etcd_cluster.url(prefix)) as writer,
    ):
        writer.put_record("h1", HostStats(num_instances=1))
        wait_until(lambda: "h1" in reader.get_records(HostStats, ["h1"]), 5, "no copy")
        rec = writer.get_record(HostStats, "h1")
        assert rec is not None
        writer.put_record("h1", HostStats(num_instances=2), rec.revision)
        wait_until(
            lambda: reader.get_records(HostStats, ["h1"])["h1"].value.num_instances == 2,
            5,
            "the copy did not follow the write",
        )
        own = reader.put_record("h2", HostStats(io_ops=3))
        assert reader.get_records(HostStats, ["h2"]) == {"h2": own}  # its own write, at once
        writer.delete_record(HostStats, "h1")
        wait_until(lambda: reader.get_records(HostStats, ["h1"]) == {}, 5, "delete not seen")
