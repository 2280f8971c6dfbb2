"""The store contract, run unchanged against every backend (see tests/backends.py)."""

from __future__ import annotations

import pytest

from berthing.model import (
    ClaimConflict,
    Claimed,
    ConflictKind,
    Consumer,
    ConsumerNotFound,
    DuplicateName,
    GenerationConflict,
    InUse,
    InvalidInput,
    Inventory,
    ProviderHasChildren,
    ProviderInUse,
    ProviderNotFound,
    ProviderQuery,
    ProviderState,
    ResourceClassNotFound,
    StoreShape,
    TraitNotFound,
    new_uuid,
    totals,
)
from berthing.store import NewParent, Store
from berthing.store.audit import audit
from tests.helpers import consumer, host

AGG_A, AGG_B, AGG_C = (new_uuid() for _ in range(3))


def names(states: list[ProviderState]) -> set[str]:
    return {s.provider.name for s in states}


# -- providers --------------------------------------------------------------------------


def test_create_and_get_provider(store: Store) -> None:
    p = store.create_provider("h1")
    assert p.generation == 0
    assert p.root_uuid == p.uuid and p.parent_uuid is None
    assert store.get_provider(p.uuid) == p


def test_duplicate_name_or_uuid_is_refused(store: Store) -> None:
    p = store.create_provider("h1")
    with pytest.raises(DuplicateName, match="h1"):
        store.create_provider("h1")
    with pytest.raises(DuplicateName, match=p.uuid):
        store.create_provider("other", uuid=p.uuid)


def test_bad_provider_input(store: Store) -> None:
    with pytest.raises(InvalidInput):
        store.create_provider("")
    with pytest.raises(InvalidInput, match="not a valid uuid"):
        store.create_provider("x", uuid="nope")
    with pytest.raises(InvalidInput, match="Parent"):
        store.create_provider("x", parent_uuid=new_uuid())
    with pytest.raises(ProviderNotFound):
        store.get_provider(new_uuid())


def test_provider_tree(store: Store) -> None:
    root = store.create_provider("root")
    child = store.create_provider("nic", parent_uuid=root.uuid)
    grandchild = store.create_provider("vf", parent_uuid=child.uuid)
    assert child.parent_uuid == root.uuid and child.root_uuid == root.uuid
    assert grandchild.root_uuid == root.uuid
    other = store.create_provider("other")
    in_tree = store.find_providers(ProviderQuery(in_tree=grandchild.uuid))
    assert names(in_tree) == {"root", "nic", "vf"}
    assert other.uuid not in {s.provider.uuid for s in in_tree}
    with pytest.raises(InUse, match="child"):
        store.delete_provider(root.uuid)


def test_delete_provider(store: Store) -> None:
    p = host(store, "h1")
    store.delete_provider(p.uuid)
    with pytest.raises(ProviderNotFound):
        store.get_provider(p.uuid)
    store.create_provider("h1")  # the name is free again


def test_delete_provider_with_allocations_is_refused(store: Store) -> None:
    p = host(store, "h1")
    c = consumer()
    assert store.claim(c, {p.uuid: {"VCPU": 1}}).ok
    with pytest.raises(InUse, match="allocations"):
        store.delete_provider(p.uuid)
    store.release(c.uuid)
    store.delete_provider(p.uuid)


# -- inventories, traits, aggregates ----------------------------------------------------


def test_set_inventories_checks_generation(store: Store) -> None:
    p = store.create_provider("h1")
    p2 = store.set_inventories(p.uuid, 0, {"VCPU": Inventory(4)})
    assert p2.generation == 1
    with pytest.raises(GenerationConflict) as err:
        store.set_inventories(p.uuid, 0, {"VCPU": Inventory(8)})
    assert err.value.code == "placement.concurrent_update"
    assert store.get_provider_state(p.uuid).inventories["VCPU"].total == 4


def test_inventory_capacity_and_usage(store: Store) -> None:
    p = host(store, "h1", {"VCPU": Inventory(8, reserved=2, allocation_ratio=4.0)})
    state = store.get_provider_state(p.uuid)
    assert state.inventories["VCPU"].capacity == 24
    assert state.free("VCPU") == 24
    assert store.claim(consumer(), {p.uuid: {"VCPU": 20}}).ok
    assert store.get_provider_state(p.uuid).free("VCPU") == 4


def test_inventory_cannot_drop_below_allocations(store: Store) -> None:
    p = host(store, "h1", {"VCPU": Inventory(8), "MEMORY_MB": Inventory(1024)})
    assert store.claim(consumer(), {p.uuid: {"VCPU": 6}}).ok
    gen = store.get_provider(p.uuid).generation
    with pytest.raises(InUse, match="below"):
        store.set_inventories(p.uuid, gen, {"VCPU": Inventory(4), "MEMORY_MB": Inventory(1024)})
    with pytest.raises(InUse, match="remove"):
        store.set_inventories(p.uuid, gen, {"MEMORY_MB": Inventory(1024)})
    # Unused classes may go, capacity may shrink to exactly what is used.
    store.set_inventories(p.uuid, gen, {"VCPU": Inventory(6)})
    state = store.get_provider_state(p.uuid)
    assert set(state.inventories) == {"VCPU"} and state.usages["VCPU"] == 6


def test_custom_resource_class_must_exist(store: Store) -> None:
    p = store.create_provider("bm1")
    with pytest.raises(ResourceClassNotFound, match="CUSTOM_BAREMETAL_GOLD"):
        store.set_inventories(p.uuid, 0, {"CUSTOM_BAREMETAL_GOLD": Inventory(1)})
    assert store.get_provider(p.uuid).generation == 0  # nothing half-written
    assert store.ensure_resource_class("CUSTOM_BAREMETAL_GOLD") is True
    assert store.ensure_resource_class("CUSTOM_BAREMETAL_GOLD") is False
    assert "CUSTOM_BAREMETAL_GOLD" in store.list_resource_classes()
    store.set_inventories(p.uuid, 0, {"CUSTOM_BAREMETAL_GOLD": Inventory(1)})
    with pytest.raises(InUse):
        store.delete_resource_class("CUSTOM_BAREMETAL_GOLD")


def test_names_are_validated(store: Store) -> None:
    with pytest.raises(InvalidInput, match="not a valid resource class"):
        store.ensure_resource_class("gold")
    with pytest.raises(InvalidInput, match="standard"):
        store.ensure_resource_class("VCPU")
    with pytest.raises(InvalidInput, match="cannot be deleted"):
        store.delete_resource_class("VCPU")
    with pytest.raises(InvalidInput, match="not a valid trait"):
        store.ensure_trait("has-gpu")
    p = store.create_provider("h1")
    with pytest.raises(InvalidInput):
        store.set_inventories(p.uuid, 0, {"vcpu": Inventory(1)})


def test_traits(store: Store) -> None:
    p = store.create_provider("h1")
    with pytest.raises(TraitNotFound):
        store.set_traits(p.uuid, 0, ["CUSTOM_FAST"])
    store.ensure_trait("CUSTOM_FAST")
    p = store.set_traits(p.uuid, 0, ["CUSTOM_FAST", "HW_CPU_X86_AVX2"])
    assert p.traits == {"CUSTOM_FAST", "HW_CPU_X86_AVX2"} and p.generation == 1
    with pytest.raises(InUse):
        store.delete_trait("CUSTOM_FAST")
    p = store.set_traits(p.uuid, 1, [])
    store.delete_trait("CUSTOM_FAST")
    assert "CUSTOM_FAST" not in store.list_traits()


def test_aggregates(store: Store) -> None:
    p = store.create_provider("h1")
    p = store.set_aggregates(p.uuid, 0, [AGG_A, AGG_B])
    assert p.aggregates == {AGG_A, AGG_B}
    with pytest.raises(GenerationConflict):
        store.set_aggregates(p.uuid, 0, [])
    with pytest.raises(InvalidInput, match="aggregate"):
        store.set_aggregates(p.uuid, 1, ["not-a-uuid"])


# -- the fit query ----------------------------------------------------------------------


def test_find_by_resources(store: Store) -> None:
    small = host(store, "small", {"VCPU": Inventory(2), "MEMORY_MB": Inventory(2048)})
    host(store, "big", {"VCPU": Inventory(16), "MEMORY_MB": Inventory(65536)})
    host(store, "disk", {"DISK_GB": Inventory(1000)})
    assert names(store.find_providers(ProviderQuery({"VCPU": 2}))) == {"small", "big"}
    assert names(store.find_providers(ProviderQuery({"VCPU": 4, "MEMORY_MB": 4096}))) == {"big"}
    assert names(store.find_providers(ProviderQuery({"VCPU": 17}))) == set()
    assert store.claim(consumer(), {small.uuid: {"VCPU": 1}}).ok
    assert names(store.find_providers(ProviderQuery({"VCPU": 2}))) == {"big"}


def test_find_respects_unit_rules(store: Store) -> None:
    host(store, "steps", {"MEMORY_MB": Inventory(8192, min_unit=512, max_unit=4096, step_size=512)})

    def fits(n: int) -> set[str]:
        return names(store.find_providers(ProviderQuery({"MEMORY_MB": n})))

    assert fits(1024) == {"steps"}
    assert fits(256) == set()  # below min_unit
    assert fits(1000) == set()  # not a step multiple
    assert fits(8192) == set()  # above max_unit


def test_find_by_traits(store: Store) -> None:
    host(store, "avx", traits=["HW_CPU_X86_AVX2"])
    host(store, "avx-ssd", traits=["HW_CPU_X86_AVX2", "STORAGE_DISK_SSD"])
    host(store, "plain")
    q = ProviderQuery
    assert names(store.find_providers(q(required_traits=frozenset({"HW_CPU_X86_AVX2"})))) == {
        "avx",
        "avx-ssd",
    }
    assert names(
        store.find_providers(
            q(
                required_traits=frozenset({"HW_CPU_X86_AVX2"}),
                forbidden_traits=frozenset({"STORAGE_DISK_SSD"}),
            )
        )
    ) == {"avx"}
    with pytest.raises(TraitNotFound):
        store.find_providers(q(required_traits=frozenset({"CUSTOM_UNKNOWN"})))
    with pytest.raises(ResourceClassNotFound):
        store.find_providers(q({"CUSTOM_UNKNOWN": 1}))


def test_find_with_any_of_traits_and_forbidden_aggregates(store: Store) -> None:
    host(store, "avx", traits=["HW_CPU_X86_AVX"], aggregates=[AGG_A])
    host(store, "avx2", traits=["HW_CPU_X86_AVX2"], aggregates=[AGG_B])
    host(store, "sse", traits=["HW_CPU_X86_SSE42"])
    avx_any = (frozenset({"HW_CPU_X86_AVX", "HW_CPU_X86_AVX2"}),)
    assert names(store.find_providers(ProviderQuery(any_traits=avx_any))) == {"avx", "avx2"}
    not_a = ProviderQuery(any_traits=avx_any, forbidden_aggregates=frozenset({AGG_A}))
    assert names(store.find_providers(not_a)) == {"avx2"}
    assert names(
        store.find_providers(ProviderQuery(forbidden_aggregates=frozenset({AGG_A, AGG_B})))
    ) == {"sse"}
    with pytest.raises(TraitNotFound):
        store.find_providers(ProviderQuery(any_traits=(frozenset({"CUSTOM_NOPE"}),)))


def test_find_whole_trees_by_root_and_shape(store: Store) -> None:
    assert store.shape() == StoreShape(nested=False, sharing=False)
    a = host(store, "a")
    host(store, "a-nic", {"NET_BW_EGR_KILOBIT_PER_SEC": Inventory(10000)}, parent=a.uuid)
    b = host(store, "b")
    host(store, "c")
    assert store.shape() == StoreShape(nested=True, sharing=False)
    trees = store.find_providers(ProviderQuery(roots=frozenset({a.uuid, b.uuid})))
    assert names(trees) == {"a", "a-nic", "b"}
    host(store, "pool", {"DISK_GB": Inventory(1000)}, traits=["MISC_SHARES_VIA_AGGREGATE"])
    assert store.shape() == StoreShape(nested=True, sharing=True)


def test_find_by_aggregates(store: Store) -> None:
    host(store, "a", aggregates=[AGG_A])
    host(store, "b", aggregates=[AGG_B])
    host(store, "ab", aggregates=[AGG_A, AGG_B])
    host(store, "c", aggregates=[AGG_C])

    def find(*groups: list[str]) -> set[str]:
        query = ProviderQuery(member_of=tuple(frozenset(g) for g in groups))
        return names(store.find_providers(query))

    assert find([AGG_A, AGG_B]) == {"a", "b", "ab"}  # any-of
    assert find([AGG_A], [AGG_B]) == {"ab"}  # all-of
    assert find([AGG_C], [AGG_A]) == set()


def test_find_with_limit_and_seed_spreads_schedulers(store: Store) -> None:
    for i in range(60):
        host(store, f"h{i:02d}")

    def q(seed: int) -> list[str]:
        found = store.find_providers(ProviderQuery({"VCPU": 1}, limit=10, seed=seed))
        return [s.provider.name for s in found]

    assert q(1) == q(1)  # same seed, same slice
    assert all(len(q(s)) == 10 for s in range(5))
    starts = {q(seed)[0] for seed in range(20)}
    assert len(starts) >= 8  # different seeds start at different places
    everything = store.find_providers(ProviderQuery({"VCPU": 1}, limit=100, seed=7))
    assert len(everything) == 60  # wraps around to return every fit once
    assert len({s.provider.uuid for s in everything}) == 60


def test_contradictory_query_is_refused() -> None:
    with pytest.raises(InvalidInput, match="both required and forbidden"):
        ProviderQuery(
            required_traits=frozenset({"HW_NIC_SRIOV"}),
            forbidden_traits=frozenset({"HW_NIC_SRIOV"}),
        )
    with pytest.raises(InvalidInput, match="positive"):
        ProviderQuery({"VCPU": 0})


# -- claims -----------------------------------------------------------------------------


def test_claim_and_read_back(store: Store) -> None:
    p = host(store, "h1")
    c = consumer()
    result = store.claim(c, {p.uuid: {"VCPU": 2, "MEMORY_MB": 2048}})
    assert isinstance(result, Claimed) and result.consumer.generation == 1
    got, allocs = store.get_allocations(c.uuid)
    assert got == result.consumer
    assert allocs == {p.uuid: {"VCPU": 2, "MEMORY_MB": 2048}}
    assert store.provider_allocations(p.uuid) == {c.uuid: {"VCPU": 2, "MEMORY_MB": 2048}}
    assert store.get_provider(p.uuid).generation == p.generation + 1
    assert audit(store) == []


def test_claim_that_does_not_fit_is_a_conflict(store: Store) -> None:
    p = host(store, "h1", {"VCPU": Inventory(4)})
    assert store.claim(consumer(), {p.uuid: {"VCPU": 3}}).ok
    result = store.claim(consumer(), {p.uuid: {"VCPU": 2}})
    assert isinstance(result, ClaimConflict)
    assert (result.kind, result.provider_uuid, result.resource_class) == (
        ConflictKind.CAPACITY,
        p.uuid,
        "VCPU",
    )
    assert store.get_provider_state(p.uuid).usages["VCPU"] == 3


def test_multi_provider_claim_is_all_or_nothing(store: Store) -> None:
    compute = host(store, "compute")
    pool = host(store, "pool", {"DISK_GB": Inventory(100)})
    c = consumer()
    result = store.claim(c, {compute.uuid: {"VCPU": 2}, pool.uuid: {"DISK_GB": 500}})
    assert isinstance(result, ClaimConflict) and result.provider_uuid == pool.uuid
    assert store.get_provider_state(compute.uuid).usages.get("VCPU", 0) == 0
    assert store.get_provider(compute.uuid).generation == compute.generation
    with pytest.raises(ConsumerNotFound):
        store.get_allocations(c.uuid)
    assert store.claim(c, {compute.uuid: {"VCPU": 2}, pool.uuid: {"DISK_GB": 50}}).ok


def test_claim_conflict_kinds(store: Store) -> None:
    p = host(store, "h1", {"VCPU": Inventory(4)})
    lost = store.claim(consumer(), {p.uuid: {"MEMORY_MB": 1}})
    assert isinstance(lost, ClaimConflict) and lost.kind is ConflictKind.NO_INVENTORY
    gone = store.claim(consumer(), {new_uuid(): {"VCPU": 1}})
    assert isinstance(gone, ClaimConflict) and gone.kind is ConflictKind.PROVIDER_GONE
    stale = store.claim(consumer(), {p.uuid: {"VCPU": 1}}, {p.uuid: p.generation - 1})
    assert isinstance(stale, ClaimConflict) and stale.kind is ConflictKind.PROVIDER_GENERATION
    assert store.claim(consumer(), {p.uuid: {"VCPU": 1}}, {p.uuid: p.generation}).ok
    assert audit(store) == []


def test_consumer_generation_guards_replace(store: Store) -> None:
    p = host(store, "h1", {"VCPU": Inventory(8)})
    c = consumer()
    first = store.claim(c, {p.uuid: {"VCPU": 2}})
    assert isinstance(first, Claimed)
    again = store.claim(c, {p.uuid: {"VCPU": 2}})  # generation None: must be new
    assert isinstance(again, ClaimConflict) and again.kind is ConflictKind.CONSUMER_GENERATION
    resized = store.claim(first.consumer, {p.uuid: {"VCPU": 6}})
    assert isinstance(resized, Claimed) and resized.consumer.generation == 2
    stale = store.claim(first.consumer, {p.uuid: {"VCPU": 1}})
    assert isinstance(stale, ClaimConflict) and stale.kind is ConflictKind.CONSUMER_GENERATION
    assert store.get_provider_state(p.uuid).usages["VCPU"] == 6


def test_resize_replaces_atomically(store: Store) -> None:
    """A resize frees the old allocation and takes the new one in one step: the new
    amount may reuse what the consumer itself held, and a failed resize keeps the old."""
    a = host(store, "a", {"VCPU": Inventory(4)})
    b = host(store, "b", {"VCPU": Inventory(4)})
    c = store.claim(consumer(), {a.uuid: {"VCPU": 3}})
    assert isinstance(c, Claimed)
    grown = store.claim(c.consumer, {a.uuid: {"VCPU": 4}})
    assert isinstance(grown, Claimed)
    too_big = store.claim(grown.consumer, {a.uuid: {"VCPU": 5}})
    assert isinstance(too_big, ClaimConflict)
    assert store.get_allocations(c.consumer.uuid)[1] == {a.uuid: {"VCPU": 4}}
    gen = store.get_provider(a.uuid).generation
    shrunk = store.claim(grown.consumer, {a.uuid: {"VCPU": 1}})
    assert isinstance(shrunk, Claimed)
    assert store.get_provider(a.uuid).generation == gen + 1  # one change, one bump
    moved = store.claim(shrunk.consumer, {b.uuid: {"VCPU": 2}})
    assert isinstance(moved, Claimed)
    assert store.get_provider_state(a.uuid).usages["VCPU"] == 0
    assert store.get_provider_state(b.uuid).usages["VCPU"] == 2
    assert audit(store) == []


def test_bad_amounts_write_nothing(store: Store) -> None:
    p = host(store, "h1", {"MEMORY_MB": Inventory(8192, min_unit=512, step_size=512)})
    for amount, msg in [
        (1000, "step_size"),
        (256, "min_unit"),
        (0, "between 1"),
        (-5, "between 1"),
    ]:
        with pytest.raises(InvalidInput, match=msg):
            store.claim(consumer(), {p.uuid: {"MEMORY_MB": amount}})
    with pytest.raises(InvalidInput, match="not a valid resource class"):
        store.claim(consumer(), {p.uuid: {"memory": 512}})
    with pytest.raises(InvalidInput, match="at least one"):
        store.claim(consumer(), {})
    with pytest.raises(InvalidInput, match="integer"):
        store.claim(consumer(), {p.uuid: {"MEMORY_MB": 1.5}})  # type: ignore[dict-item]
    assert store.get_provider(p.uuid).generation == p.generation
    assert store.provider_allocations(p.uuid) == {}


def test_bare_metal_node_is_consumed_whole(store: Store) -> None:
    store.ensure_resource_class("CUSTOM_BAREMETAL_GOLD")
    node = host(store, "bm1", {"CUSTOM_BAREMETAL_GOLD": Inventory(1, min_unit=1, max_unit=1)})
    q = ProviderQuery({"CUSTOM_BAREMETAL_GOLD": 1})
    assert names(store.find_providers(q)) == {"bm1"}
    assert store.claim(consumer(), {node.uuid: {"CUSTOM_BAREMETAL_GOLD": 1}}).ok
    assert store.find_providers(q) == []
    lost = store.claim(consumer(), {node.uuid: {"CUSTOM_BAREMETAL_GOLD": 1}})
    assert isinstance(lost, ClaimConflict) and lost.kind is ConflictKind.CAPACITY


def test_release(store: Store) -> None:
    p = host(store, "h1")
    c = store.claim(consumer(), {p.uuid: {"VCPU": 4}})
    assert isinstance(c, Claimed)
    with pytest.raises(GenerationConflict):
        store.release(c.consumer.uuid, generation=5)
    store.release(c.consumer.uuid, generation=1)
    assert store.get_provider_state(p.uuid).usages["VCPU"] == 0
    with pytest.raises(ConsumerNotFound):
        store.release(c.consumer.uuid)
    # A released consumer may start again as new.
    assert store.claim(Consumer(c.consumer.uuid, "proj", "user"), {p.uuid: {"VCPU": 1}}).ok


def test_usages_per_project_and_user(store: Store) -> None:
    p = host(store, "h1")
    store.claim(consumer("p1", "alice"), {p.uuid: {"VCPU": 1, "MEMORY_MB": 512}})
    store.claim(consumer("p1", "bob"), {p.uuid: {"VCPU": 2}})
    store.claim(consumer("p2", "alice"), {p.uuid: {"VCPU": 4}})
    assert totals(store.usages("p1")) == {"VCPU": 3, "MEMORY_MB": 512}
    assert totals(store.usages("p1", "bob")) == {"VCPU": 2}
    assert store.usages("nobody") == []


def test_rename_and_move_a_subtree(store: Store) -> None:
    a, b = host(store, "a"), host(store, "b")
    child = host(store, "child", parent=a.uuid)
    grandchild = host(store, "grandchild", parent=child.uuid)
    renamed = store.update_provider(a.uuid, name="a2")
    assert renamed.name == "a2" and renamed.generation == a.generation
    with pytest.raises(DuplicateName, match="Conflicting resource provider b"):
        store.update_provider(a.uuid, name="b")
    moved = store.update_provider(child.uuid, parent=NewParent(b.uuid))
    assert (moved.parent_uuid, moved.root_uuid) == (b.uuid, b.uuid)
    assert store.get_provider(grandchild.uuid).root_uuid == b.uuid
    with pytest.raises(InvalidInput, match="own subtree"):
        store.update_provider(child.uuid, parent=NewParent(grandchild.uuid))
    with pytest.raises(InvalidInput, match="own parent"):
        store.update_provider(child.uuid, parent=NewParent(child.uuid))
    with pytest.raises(InvalidInput, match="does not exist"):
        store.update_provider(child.uuid, parent=NewParent(new_uuid()))
    root = store.update_provider(child.uuid, parent=NewParent(None))
    assert (root.parent_uuid, root.root_uuid) == (None, child.uuid)
    assert store.get_provider(grandchild.uuid).root_uuid == child.uuid
    with pytest.raises(ProviderHasChildren):
        store.delete_provider(child.uuid)
    with pytest.raises(ProviderNotFound):
        store.update_provider(new_uuid(), name="x")
    assert audit(store) == []


def test_an_inventory_may_shrink_below_use_when_asked(store: Store) -> None:
    p = host(store, "h", {"VCPU": Inventory(8)})
    assert store.claim(consumer(), {p.uuid: {"VCPU": 6}}).ok
    p = store.get_provider(p.uuid)
    with pytest.raises(InUse, match="below"):
        store.set_inventories(p.uuid, p.generation, {"VCPU": Inventory(4)})
    p = store.set_inventories(p.uuid, p.generation, {"VCPU": Inventory(4)}, below_use=True)
    state = store.get_provider_state(p.uuid)
    assert state.usages["VCPU"] == 6 and state.free("VCPU") == -2
    lost = store.claim(consumer(), {p.uuid: {"VCPU": 1}})
    assert isinstance(lost, ClaimConflict) and lost.kind is ConflictKind.CAPACITY
    with pytest.raises(InUse, match="Cannot remove"):
        store.set_inventories(p.uuid, p.generation, {}, below_use=True)
    with pytest.raises(ProviderInUse):
        store.delete_provider(p.uuid)
