"""The pipeline end to end, against every backend."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from berthing.model import (
    GroupPolicy,
    HostStats,
    InvalidInput,
    Inventory,
    NotFound,
    ProviderQuery,
    RequestSpec,
    new_uuid,
)
from berthing.scheduler import (
    NoValidHost,
    Scheduler,
    SchedulerConfig,
    Selection,
    create_group,
    define_zone,
)
from berthing.store import Store
from berthing.store.audit import audit
from tests.helpers import consumer, host

SMALL = {"VCPU": 1, "MEMORY_MB": 1024}


def sched(store: Store, **config: object) -> Scheduler:
    return Scheduler(store, SchedulerConfig(**config), rng=random.Random(4))  # type: ignore[arg-type]


def hosts_of(selections: list[Selection]) -> list[str]:
    return [s.destination.host_name for s in selections]


def test_places_and_returns_alternates(store: Store) -> None:
    for i in range(5):
        host(store, f"h{i}")
    [sel] = sched(store).select_destinations(RequestSpec(SMALL))
    assert store.get_allocations(sel.consumer.uuid)[1] == {sel.destination.host_uuid: SMALL}
    assert len(sel.alternates) == 3
    assert sel.destination.host_uuid not in {a.host_uuid for a in sel.alternates}
    assert audit(store) == []


def test_spread_and_pack(store: Store) -> None:
    busy = host(store, "busy")
    host(store, "empty")
    assert store.claim(consumer(), {busy.uuid: {"MEMORY_MB": 8192}}).ok
    spread = SchedulerConfig(host_subset_size=1)
    pack = spread.with_strategy("pack")
    s1 = Scheduler(store, spread).select_destinations(RequestSpec(SMALL))
    s2 = Scheduler(store, pack).select_destinations(RequestSpec(SMALL))
    assert hosts_of(s1) == ["empty"] and hosts_of(s2) == ["busy"]


def test_traits_aggregates_zones_and_forced_host(store: Store) -> None:
    az1, az2 = new_uuid(), new_uuid()
    host(store, "gpu", traits=["HW_GPU_API_VULKAN"], aggregates=[az1])
    host(store, "plain1", aggregates=[az1])
    host(store, "plain2", aggregates=[az2])
    define_zone(store, "az1", az1)
    define_zone(store, "az2", az2)
    s = sched(store)
    gpu = RequestSpec(SMALL, required_traits=frozenset({"HW_GPU_API_VULKAN"}))
    assert hosts_of(s.select_destinations(gpu)) == ["gpu"]
    no_gpu = RequestSpec(
        SMALL, forbidden_traits=frozenset({"HW_GPU_API_VULKAN"}), availability_zone="az1"
    )
    assert hosts_of(s.select_destinations(no_gpu)) == ["plain1"]
    assert hosts_of(s.select_destinations(RequestSpec(SMALL, availability_zone="az2"))) == [
        "plain2"
    ]
    assert hosts_of(s.select_destinations(RequestSpec(SMALL, force_host="plain2"))) == ["plain2"]
    with pytest.raises(InvalidInput, match="az9.*Known zones: az1, az2"):
        s.select_destinations(RequestSpec(SMALL, availability_zone="az9"))


def test_ignore_hosts_and_disabled_hosts(store: Store) -> None:
    host(store, "a")
    b = host(store, "b")
    host(store, "c", traits=["COMPUTE_STATUS_DISABLED"])
    s = sched(store)
    assert hosts_of(s.select_destinations(RequestSpec(SMALL, ignore_hosts=frozenset({"a"})))) == [
        "b"
    ]
    with pytest.raises(NoValidHost, match="ignore list"):
        s.select_destinations(RequestSpec(SMALL, ignore_hosts=frozenset({"a", b.uuid})))


def test_anti_affinity(store: Store) -> None:
    for i in range(3):
        host(store, f"h{i}")
    group = create_group(store, GroupPolicy.ANTI_AFFINITY)
    s = sched(store)
    placed = s.select_destinations(RequestSpec(SMALL, num_instances=3, server_group=group))
    assert sorted(hosts_of(placed)) == ["h0", "h1", "h2"]
    with pytest.raises(NoValidHost, match="anti-affinity"):
        s.select_destinations(RequestSpec(SMALL, server_group=group))


def test_anti_affinity_max_server_per_host(store: Store) -> None:
    for i in range(2):
        host(store, f"h{i}")
    group = create_group(store, "anti-affinity", max_server_per_host=2)
    placed = sched(store).select_destinations(
        RequestSpec(SMALL, num_instances=4, server_group=group)
    )
    assert Counter(hosts_of(placed)) == {"h0": 2, "h1": 2}


def test_affinity(store: Store) -> None:
    for i in range(4):
        host(store, f"h{i}")
    group = create_group(store, GroupPolicy.AFFINITY)
    s = sched(store)
    first = s.select_destinations(RequestSpec(SMALL, num_instances=3, server_group=group))
    later = s.select_destinations(RequestSpec(SMALL, server_group=group))
    assert len(set(hosts_of(first + later))) == 1


def test_soft_policies_weigh(store: Store) -> None:
    for i in range(4):
        host(store, f"h{i}")
    soft_anti = create_group(store, GroupPolicy.SOFT_ANTI_AFFINITY)
    s = sched(store, host_subset_size=1)
    spread = s.select_destinations(RequestSpec(SMALL, num_instances=4, server_group=soft_anti))
    assert len(set(hosts_of(spread))) == 4
    soft = create_group(store, GroupPolicy.SOFT_AFFINITY)
    s = sched(store, host_subset_size=1, weights={"soft_affinity": 10.0, "ram": 1.0})
    packed = s.select_destinations(RequestSpec(SMALL, num_instances=3, server_group=soft))
    assert len(set(hosts_of(packed))) == 1


def test_multi_instance_is_all_or_nothing(store: Store) -> None:
    for i in range(2):
        host(store, f"h{i}", {"VCPU": Inventory(2), "MEMORY_MB": Inventory(4096)})
    s = sched(store)
    with pytest.raises(NoValidHost):
        s.select_destinations(RequestSpec({"VCPU": 2}, num_instances=3))
    for state in store.find_providers(ProviderQuery()):
        assert state.usages.get("VCPU", 0) == 0
    assert len(s.select_destinations(RequestSpec({"VCPU": 2}, num_instances=2))) == 2


def test_no_valid_host_says_why(store: Store) -> None:
    host(store, "h0")
    s = sched(store)
    with pytest.raises(NoValidHost, match="no enabled provider has 1000 VCPU free") as err:
        s.select_destinations(RequestSpec({"VCPU": 1000, "MEMORY_MB": 1}))
    assert err.value.http_status == 409
    assert not any("MEMORY_MB" in r for r in err.value.reasons)
    store.ensure_trait("CUSTOM_FPGA")
    with pytest.raises(NoValidHost, match="trait CUSTOM_FPGA"):
        s.select_destinations(RequestSpec(SMALL, required_traits=frozenset({"CUSTOM_FPGA"})))
    assert s.metrics.no_valid_host == 2


def test_bad_requests_are_clear(store: Store) -> None:
    host(store, "h0")
    s = sched(store)
    with pytest.raises(NotFound, match="CUSTOM_NOPE"):
        s.select_destinations(RequestSpec({"CUSTOM_NOPE": 1}))
    with pytest.raises(NotFound, match="CUSTOM_NOPE"):
        s.select_destinations(RequestSpec(SMALL, required_traits=frozenset({"CUSTOM_NOPE"})))
    with pytest.raises(InvalidInput, match="does not exist"):
        s.select_destinations(RequestSpec(SMALL, server_group=new_uuid()))
    with pytest.raises(InvalidInput, match="both required and forbidden"):
        RequestSpec(
            SMALL,
            required_traits=frozenset({"HW_NIC_SRIOV"}),
            forbidden_traits=frozenset({"HW_NIC_SRIOV"}),
        )
    with pytest.raises(InvalidInput, match="between 1"):
        RequestSpec({"VCPU": 0})
    with pytest.raises(InvalidInput, match="resource class"):
        RequestSpec({"cpu": 1})


def test_host_stats_filter_and_weigh(store: Store) -> None:
    busy = host(store, "busy")
    flaky = host(store, "flaky")
    host(store, "good")
    store.put_record(busy.uuid, HostStats(num_instances=50))
    store.put_record(flaky.uuid, HostStats(build_failures=3))
    s = sched(store, host_subset_size=1)
    for _ in range(3):
        assert hosts_of(s.select_destinations(RequestSpec(SMALL))) == ["good"]
    assert s.metrics.rejections["max_instances_per_host reached"] == 3


def test_same_and_different_host(store: Store) -> None:
    for i in range(3):
        host(store, f"h{i}")
    s = sched(store)
    [first] = s.select_destinations(RequestSpec(SMALL))
    uuid = first.consumer.uuid
    same = s.select_destinations(RequestSpec(SMALL, same_host=frozenset({uuid})))
    diff = s.select_destinations(RequestSpec(SMALL, different_host=frozenset({uuid})))
    assert hosts_of(same) == [first.destination.host_name]
    assert hosts_of(diff) != [first.destination.host_name]


def test_shared_storage_pool(store: Store) -> None:
    agg = new_uuid()
    compute = host(
        store, "compute", {"VCPU": Inventory(8), "MEMORY_MB": Inventory(8192)}, aggregates=[agg]
    )
    host(store, "lonely", {"VCPU": Inventory(8), "MEMORY_MB": Inventory(8192)})
    pool = host(
        store,
        "pool",
        {"DISK_GB": Inventory(100)},
        traits=["MISC_SHARES_VIA_AGGREGATE"],
        aggregates=[agg],
    )
    spec = RequestSpec(SMALL, shared_resources={"DISK_GB": 40})
    [sel] = sched(store).select_destinations(spec)
    assert sel.destination.allocations == {compute.uuid: SMALL, pool.uuid: {"DISK_GB": 40}}
    sched(store).select_destinations(spec)
    with pytest.raises(NoValidHost, match="sharing provider"):
        sched(store).select_destinations(spec)


def test_bare_metal_whole_node(store: Store) -> None:
    store.ensure_resource_class("CUSTOM_BAREMETAL_GOLD")
    for i in range(2):
        host(store, f"bm{i}", {"CUSTOM_BAREMETAL_GOLD": Inventory(1, max_unit=1)})
    s = sched(store)
    placed = s.select_destinations(RequestSpec({"CUSTOM_BAREMETAL_GOLD": 1}, num_instances=2))
    assert sorted(hosts_of(placed)) == ["bm0", "bm1"]
    with pytest.raises(NoValidHost, match="no enabled provider has 1 CUSTOM_BAREMETAL_GOLD"):
        s.select_destinations(RequestSpec({"CUSTOM_BAREMETAL_GOLD": 1}))


class RacingStore:
    """Delegates to a real store, but lets a rival take the first host claimed: a
    deterministic lost race, to show that the scheduler retries on the next one."""

    def __init__(self, real: Store) -> None:
        self.real = real
        self.raced = False

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)

    def claim(self, who, allocations, provider_generations=None):  # type: ignore[no-untyped-def]
        if not self.raced:
            self.raced = True
            [puuid] = allocations
            assert self.real.claim(consumer(), {puuid: {"VCPU": 2}}).ok
        return self.real.claim(who, allocations, provider_generations)


def test_lost_race_retries_next_candidate(store: Store) -> None:
    for i in range(3):
        host(store, f"h{i}", {"VCPU": Inventory(2), "MEMORY_MB": Inventory(4096)})
    racing = RacingStore(store)
    s = Scheduler(racing, rng=random.Random(1))  # type: ignore[arg-type]
    [sel] = s.select_destinations(RequestSpec({"VCPU": 2}))
    assert s.metrics.conflicts == 1 and s.metrics.retries == 1
    assert store.get_allocations(sel.consumer.uuid)[1] == sel.destination.allocations
    assert audit(store) == []


def test_affinity_and_same_host_find_their_host_in_a_large_cloud(store: Store) -> None:
    """The candidate query returns a small random slice; the host an affinity group (or
    a same_host hint) needs must be asked for by uuid, not hoped for in the slice."""
    for i in range(40):
        host(store, f"h{i:02d}")
    group = create_group(store, GroupPolicy.AFFINITY)
    s = sched(store, candidate_limit=2)
    [first] = s.select_destinations(RequestSpec(SMALL, server_group=group))
    for _ in range(3):  # 1 + 3 + 3 instances fill 7 of the host's 8 VCPU
        [later] = s.select_destinations(RequestSpec(SMALL, server_group=group))
        assert later.destination.host_uuid == first.destination.host_uuid
        [near] = s.select_destinations(
            RequestSpec(SMALL, same_host=frozenset({first.consumer.uuid}))
        )
        assert near.destination.host_uuid == first.destination.host_uuid
