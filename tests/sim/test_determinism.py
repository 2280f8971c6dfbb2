"""The same seed gives the same request stream and the same cloud, byte for byte.

What may still differ between two runs of one seed is only what the operating system
decides (which process runs when); everything drawn from the seed is pinned here.
"""

from __future__ import annotations

import functools

import msgspec

from berthing.model import Instance, InstanceState, ProviderQuery, Record
from berthing.sim.cloud import cloud_dump, fill_of
from berthing.sim.demo import repeat_seeds
from berthing.sim.fleet import seeded_failures
from berthing.sim.prepared import Cloud, prepare
from berthing.sim.workload import Op, fingerprint, make_groups, make_stream
from berthing.store import open_store

HOSTS = 40


@functools.cache
def _prepared(seed: int, fill: float) -> tuple[bytes, Cloud]:
    with open_store("sqlite://") as store:
        cloud = prepare(store, HOSTS, seed, fill, pools=True)
        return cloud_dump(store), cloud


def _stream(seed: int, live: tuple[str, ...]) -> list[Op]:
    return make_stream(200, seed, live, make_groups(seed), pools=True)


def test_same_seed_same_cloud_byte_for_byte() -> None:
    first, cloud = _prepared(3, 0.7)
    second, again = _prepared.__wrapped__(3, 0.7)  # built again, not the cached one
    assert first == second
    assert cloud.sha256 == again.sha256 and cloud.live == again.live
    other, elsewhere = _prepared(4, 0.7)
    assert other != first and elsewhere.sha256 != cloud.sha256


def test_prefill_reaches_the_fill_and_only_that() -> None:
    for fill in (0.3, 0.85):
        _, cloud = _prepared(5, fill)
        assert fill <= cloud.fill < fill + 0.05, cloud.fill
        assert cloud.live
    with open_store("sqlite://") as store:
        prepare(store, HOSTS, 5, 0.0, pools=True)
        assert fill_of(store.find_providers(ProviderQuery())) == 0.0


def test_same_seed_same_stream_byte_for_byte() -> None:
    _, cloud = _prepared(6, 0.6)
    first, second = _stream(6, cloud.live), _stream(6, cloud.live)
    as_bytes = msgspec.json.encode(msgspec.to_builtins(first, order="deterministic"))
    assert as_bytes == msgspec.json.encode(msgspec.to_builtins(second, order="deterministic"))
    assert fingerprint(first) == fingerprint(second)
    assert fingerprint(_stream(7, cloud.live)) != fingerprint(first)


def test_stream_keeps_the_cloud_about_as_full() -> None:
    _, cloud = _prepared(8, 0.6)
    ops = _stream(8, cloud.live)
    boots = [op for op in ops if op.kind == "boot"]
    deletes = [op for op in ops if op.kind == "delete"]
    assert abs(len(boots) - len(deletes)) < len(ops) * 0.2
    targets = [op.target for op in deletes]
    assert len(targets) == len(set(targets)), "an instance is deleted once"
    booted = {op.spec.instance_uuids[0] for op in boots if op.spec}
    assert set(targets) <= booted | set(cloud.live)


def test_injected_failures_depend_on_seed_host_and_instance_only() -> None:
    records = [
        Record(
            f"host-{i % 7}/instance-{i}", Instance(InstanceState.BUILD, "r", "c", {}, "p", "u"), i
        )
        for i in range(2000)
    ]
    fail = seeded_failures(1, 0.1)
    first = [fail(r) for r in records]
    assert first == [fail(r) for r in reversed(records)][::-1]
    assert 100 < sum(x is not None for x in first) < 300
    assert first != [seeded_failures(2, 0.1)(r) for r in records]


def test_repeats_mix_new_seeds_and_the_first_again() -> None:
    assert repeat_seeds(5, 1) == [5]
    assert repeat_seeds(5, 3) == [5, 6, 5]
    assert repeat_seeds(5, 4) == [5, 6, 7, 5]
