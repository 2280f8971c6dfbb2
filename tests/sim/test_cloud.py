"""``build_cloud`` on every backend: the same cloud for a seed, through the contract only;
and the candidate query on it agrees with a full scan, whatever class drives it."""

from __future__ import annotations

import random
from dataclasses import replace

from berthing.model import Consumer, ProviderQuery, ProviderState, new_uuid
from berthing.scheduler.groups import zone_aggregate
from berthing.sim.cloud import SHAPES, ZONES, build_cloud, cloud_fill, load_summary
from berthing.store import Store, open_store

HOSTS = 60


def test_build_cloud_registers_every_shape_and_zone(store: Store) -> None:
    seen: list[int] = []
    summary = build_cloud(store, HOSTS, seed=5, progress=seen.append)
    assert seen[-1] == HOSTS
    assert sum(summary.shapes.values()) == summary.hosts == HOSTS
    assert set(summary.shapes) == {s.name for s in SHAPES}
    assert load_summary(store) == summary
    states = store.find_providers(ProviderQuery())
    assert len(states) == HOSTS
    for zone in ZONES:
        members = [s for s in states if zone_aggregate(store, zone) in s.provider.aggregates]
        assert len(members) == HOSTS // len(ZONES)
    capacity: dict[str, int] = {}
    for s in states:
        for rc, inv in s.inventories.items():
            capacity[rc] = capacity.get(rc, 0) + inv.capacity
    assert capacity == summary.capacity
    assert cloud_fill(store) == dict.fromkeys(sorted(capacity), 0.0)


def test_same_seed_same_cloud(tmp_path: object) -> None:
    def names(seed: int) -> list[tuple[str, str, frozenset[str]]]:
        with open_store("sqlite://") as s:
            build_cloud(s, 30, seed)
            return [(x.provider.name, x.provider.uuid, x.provider.traits) for x in _all(s)]

    assert names(1) == names(1)
    assert names(1) != names(2)


def test_threads_register_the_same_cloud(store: Store) -> None:
    """``threads`` > 1 (how the benchmark fills a remote engine): the same providers,
    inventories, traits and aggregates as one thread registers, progress to the end."""
    seen: list[int] = []
    summary = build_cloud(store, HOSTS, seed=5, progress=seen.append, threads=4)
    assert seen[-1] == HOSTS and seen == sorted(seen)
    with open_store("sqlite://") as one:
        assert build_cloud(one, HOSTS, seed=5) == summary
        expected = {_shape_of(x) for x in _all(one)}
    assert {_shape_of(x) for x in _all(store)} == expected


def _shape_of(state: ProviderState) -> tuple[object, ...]:
    p = state.provider
    inventories = tuple(sorted((rc, inv.total) for rc, inv in state.inventories.items()))
    return (p.uuid, p.name, p.traits, p.aggregates, inventories)


def test_candidate_query_agrees_with_a_full_scan(store: Store) -> None:
    summary = build_cloud(store, HOSTS, seed=9)
    _use_some_capacity(store, random.Random(9))
    everything = _all(store)
    zone = summary.zones["az2"]
    queries = [
        ProviderQuery({"VCPU": 2, "MEMORY_MB": 4096, "DISK_GB": 40}),
        ProviderQuery({"VCPU": 8, "MEMORY_MB": 65536, "CUSTOM_GPU_A100": 1}),
        ProviderQuery({"CUSTOM_BAREMETAL_GOLD": 1}),
        ProviderQuery({"MEMORY_MB": 200_000}, required_traits=frozenset({"HW_CPU_X86_AVX2"})),
        ProviderQuery(
            {"VCPU": 1, "DISK_GB": 10},
            forbidden_traits=frozenset({"STORAGE_DISK_SSD"}),
            member_of=(frozenset({zone}),),
        ),
        ProviderQuery({"VCPU": 10_000}),  # fits nowhere
    ]
    for query in queries:
        expected = {s.provider.uuid for s in everything if query.matches(s)}
        assert {s.provider.uuid for s in store.find_providers(query)} == expected, query
        for seed in range(4):
            got = [
                s.provider.uuid for s in store.find_providers(replace(query, limit=5, seed=seed))
            ]
            assert len(got) == len(set(got)) == min(5, len(expected)), query
            assert set(got) <= expected, query


def _all(store: Store) -> list:  # type: ignore[type-arg]
    return store.find_providers(ProviderQuery())


def _use_some_capacity(store: Store, rng: random.Random) -> None:
    """Claim a good part of some hosts, so that free room differs from host to host."""
    for state in rng.sample(_all(store), HOSTS // 2):
        take = {rc: max(1, state.free(rc) * 3 // 4) for rc in state.inventories}
        take = {rc: n for rc, n in take.items() if state.inventories[rc].max_unit >= n}
        if take:
            assert store.claim(Consumer(new_uuid(), "p", "u"), {state.provider.uuid: take}).ok
