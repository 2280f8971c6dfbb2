"""The candidate engine against every backend: lone providers, trees, sharing providers,
granular groups, and a wide tree whose combinations must not be enumerated."""

from __future__ import annotations

from berthing.engine import MAX_PER_TREE, find_candidates
from berthing.model import (
    SHARING_TRAIT,
    CandidateRequest,
    Inventory,
    Isolation,
    RequestGroup,
    new_uuid,
)
from berthing.store import Store
from tests.helpers import host

AGG = new_uuid()


def request(*groups: RequestGroup, **kw: object) -> CandidateRequest:
    return CandidateRequest(groups, **kw)  # type: ignore[arg-type]


def test_lone_providers_one_query_limit_and_seed(store: Store) -> None:
    for i in range(12):
        host(store, f"h{i}", traits=["HW_CPU_X86_AVX2"] if i % 2 else [])
    wanted = request(RequestGroup(resources={"VCPU": 2}, required=frozenset({"HW_CPU_X86_AVX2"})))
    every = find_candidates(store, wanted)
    assert len(every.candidates) == 6
    assert all(
        store.get_provider(c.root).name in {f"h{i}" for i in range(1, 12, 2)}
        for c in every.candidates
    )
    first = find_candidates(store, request(*wanted.groups, limit=3, seed=7))
    again = find_candidates(store, request(*wanted.groups, limit=3, seed=7))
    assert first == again and len(first.candidates) == 3
    [c] = find_candidates(store, request(*wanted.groups, limit=1, seed=1)).candidates
    assert c.allocations == {c.root: {"VCPU": 2}} and c.mappings == {"": (c.root,)}


def test_a_vm_takes_vcpu_from_the_host_and_a_vgpu_from_a_child(store: Store) -> None:
    cn = host(store, "cn", {"VCPU": Inventory(8), "MEMORY_MB": Inventory(8192)})
    gpu = host(store, "gpu", {"VGPU": Inventory(2)}, parent=cn.uuid)
    host(store, "plain", {"VCPU": Inventory(8), "MEMORY_MB": Inventory(8192)})
    result = find_candidates(store, request(RequestGroup(resources={"VCPU": 2, "VGPU": 1})))
    [c] = result.candidates
    assert c.root == cn.uuid
    assert c.allocations == {cn.uuid: {"VCPU": 2}, gpu.uuid: {"VGPU": 1}}
    assert set(result.trees[cn.uuid]) == {cn.uuid, gpu.uuid}
    below_129 = request(RequestGroup(resources={"VCPU": 2, "VGPU": 1}), spread_trees=False)
    assert find_candidates(store, below_129).candidates == ()


def test_disk_from_a_sharing_pool_or_the_host(store: Store) -> None:
    a = host(store, "a", {"VCPU": Inventory(4)}, aggregates=[AGG])
    b = host(store, "b", {"VCPU": Inventory(4), "DISK_GB": Inventory(10)}, aggregates=[AGG])
    pool = host(
        store, "pool", {"DISK_GB": Inventory(100)}, traits=[SHARING_TRAIT], aggregates=[AGG]
    )
    result = find_candidates(store, request(RequestGroup(resources={"VCPU": 1, "DISK_GB": 10})))
    got = {
        tuple(sorted((store.get_provider(p).name, tuple(per)) for p, per in c.allocations.items()))
        for c in result.candidates
    }
    assert got == {
        (("a", ("VCPU",)), ("pool", ("DISK_GB",))),
        (("b", ("VCPU",)), ("pool", ("DISK_GB",))),
        (("b", ("DISK_GB", "VCPU")),),
    }
    alone = find_candidates(store, request(RequestGroup(resources={"DISK_GB": 50})))
    assert [c.allocations for c in alone.candidates] == [{pool.uuid: {"DISK_GB": 50}}]
    assert alone.candidates[0].root == pool.uuid
    assert a.uuid and b.uuid


def test_numbered_groups_isolate_and_same_subtree(store: Store) -> None:
    cn = host(store, "cn", {"VCPU": Inventory(8)})
    numa = [
        host(store, f"numa{i}", {"MEMORY_MB": Inventory(4096)}, parent=cn.uuid) for i in range(2)
    ]
    gpus = [host(store, f"gpu{i}", {"VGPU": Inventory(1)}, parent=numa[i].uuid) for i in range(2)]
    groups = (
        RequestGroup(resources={"VCPU": 1}),
        RequestGroup("_MEM", resources={"MEMORY_MB": 1024}),
        RequestGroup("_GPU", resources={"VGPU": 1}),
    )
    every = find_candidates(store, request(*groups, isolation=Isolation.ISOLATE))
    assert len(every.candidates) == 4  # 2 NUMA nodes x 2 GPUs
    aligned = find_candidates(store, request(*groups, same_subtree=(frozenset({"_MEM", "_GPU"}),)))
    pairs = {(c.mappings["_MEM"], c.mappings["_GPU"]) for c in aligned.candidates}
    assert pairs == {((numa[i].uuid,), (gpus[i].uuid,)) for i in range(2)}


def test_a_wide_tree_is_walked_lazily(store: Store) -> None:
    """8 children x 8 identical groups (Placement bug 2126751): 8**8 products, 8! valid
    with isolate. A limit returns at once; without one, the per-tree cap holds."""
    cn = host(store, "cn", {"VCPU": Inventory(8)})
    for i in range(8):
        host(store, f"pf{i}", {"SRIOV_NET_VF": Inventory(1)}, parent=cn.uuid)
    groups = tuple(RequestGroup(f"{i}", resources={"SRIOV_NET_VF": 1}) for i in range(8))
    ten = find_candidates(store, request(*groups, isolation=Isolation.ISOLATE, limit=10))
    assert len(ten.candidates) == 10
    assert all(len(c.allocations) == 8 for c in ten.candidates)
    capped = find_candidates(store, request(*groups, isolation=Isolation.ISOLATE))
    assert len(capped.candidates) == MAX_PER_TREE


def test_groups_on_one_provider_respect_max_unit_of_the_sum(store: Store) -> None:
    """Two groups of 1024 on a provider with max_unit 1024 sum to 2048, which no claim
    can write; Placement drops such a candidate, and so does the engine."""
    cn = host(store, "cn", {"VCPU": Inventory(8)})
    numa = [
        host(store, f"numa{i}", {"MEMORY_MB": Inventory(4096, max_unit=1024)}, parent=cn.uuid)
        for i in range(2)
    ]
    groups = (
        RequestGroup("1", resources={"MEMORY_MB": 1024}),
        RequestGroup("2", resources={"MEMORY_MB": 1024}),
    )
    found = find_candidates(store, request(*groups))
    assert {tuple(sorted(c.allocations)) for c in found.candidates} == {
        tuple(sorted(n.uuid for n in numa))
    }
    assert all(
        per == {"MEMORY_MB": 1024} for c in found.candidates for per in c.allocations.values()
    )


def test_a_sharing_provider_meets_member_of_itself(store: Store) -> None:
    """The root's aggregates span its tree, not the sharing providers next to it:
    member_of=B with the host in A and B does not let a pool that is only in A serve."""
    agg_a, agg_b = new_uuid(), new_uuid()
    h = host(store, "h", {"VCPU": Inventory(8)}, aggregates=[agg_a, agg_b])
    pool_a = host(
        store, "pool-a", {"DISK_GB": Inventory(100)}, traits=[SHARING_TRAIT], aggregates=[agg_a]
    )
    pool_b = host(
        store, "pool-b", {"DISK_GB": Inventory(100)}, traits=[SHARING_TRAIT], aggregates=[agg_b]
    )
    group = RequestGroup(resources={"VCPU": 1, "DISK_GB": 10}, member_of=(frozenset({agg_b}),))
    [c] = find_candidates(store, request(group)).candidates
    assert c.allocations == {h.uuid: {"VCPU": 1}, pool_b.uuid: {"DISK_GB": 10}}
    assert pool_a.uuid
    alone = find_candidates(
        store, request(RequestGroup(resources={"DISK_GB": 10}, member_of=(frozenset({agg_b}),)))
    )
    assert [c.allocations for c in alone.candidates] == [{pool_b.uuid: {"DISK_GB": 10}}]


def test_a_child_meets_member_of_by_its_own_or_its_roots_aggregates(store: Store) -> None:
    """member_of=A&member_of=B: a child in A under a root in B meets neither whole, so
    it does not serve (Placement's rule: the provider or its root is in all of them)."""
    agg_a, agg_b = new_uuid(), new_uuid()
    cn = host(store, "cn", {"VCPU": Inventory(8)}, aggregates=[agg_b])
    host(store, "numa", {"MEMORY_MB": Inventory(4096)}, parent=cn.uuid, aggregates=[agg_a])
    both = (frozenset({agg_a}), frozenset({agg_b}))
    found = find_candidates(
        store, request(RequestGroup(resources={"MEMORY_MB": 512}, member_of=both))
    )
    assert found.candidates == ()
    one = find_candidates(
        store, request(RequestGroup(resources={"MEMORY_MB": 512}, member_of=(frozenset({agg_b}),)))
    )
    assert len(one.candidates) == 1


def test_two_groups_on_one_sharing_provider_are_in_one_subtree(store: Store) -> None:
    """A sharing provider is its own subtree next to the host's tree."""
    agg = new_uuid()
    h = host(store, "h", {"VCPU": Inventory(8)}, aggregates=[agg])
    pool = host(
        store, "pool", {"DISK_GB": Inventory(100)}, traits=[SHARING_TRAIT], aggregates=[agg]
    )
    groups = (
        RequestGroup(resources={"VCPU": 1}),
        RequestGroup("1", resources={"DISK_GB": 5}),
        RequestGroup("2", resources={"DISK_GB": 5}),
    )
    found = find_candidates(store, request(*groups, same_subtree=(frozenset({"1", "2"}),)))
    assert [c.allocations for c in found.candidates] == [
        {h.uuid: {"VCPU": 1}, pool.uuid: {"DISK_GB": 10}}
    ]
