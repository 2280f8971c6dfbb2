"""The etcd store under member failures, on a real 3-member cluster per test.

Several OS processes claim and release in a storm while members are killed (SIGKILL,
as a crashed host) and restarted. After each fault: no provider is over capacity,
usage equals the sum of allocations, every acknowledged claim is there, and nothing
is there that was not attempted. Each test prints how long the store took to recover.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from berthing.devtools.etcd_cluster import EtcdCluster, wait_until
from berthing.devtools.ports import free_port
from berthing.model import (
    Consumer,
    ConsumerNotFound,
    Inventory,
    ProviderQuery,
    StoreUnavailable,
    new_uuid,
)
from berthing.store import Store, open_store
from berthing.store.audit import audit
from tests.store import fault_storm
from tests.store.fault_storm import Log, check_sound, recovery_seconds

pytestmark = pytest.mark.slow

WORKERS, PROVIDERS, STORM_SECONDS, FAULT_AT = 3, 12, 6.0, 1.5


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[EtcdCluster]:
    """A cluster of its own: these tests kill members and must not disturb others."""
    with EtcdCluster(tmp_path / "etcd") as c:
        yield c


def run_storm(
    url: str, providers: list[str], tmp_path: Path, fault: Callable[[], object]
) -> tuple[list[Log], float]:
    return fault_storm.run_storm(
        url, providers, tmp_path, fault, workers=WORKERS, seconds=STORM_SECONDS, fault_at=FAULT_AT
    )


def setup_providers(store: Store) -> list[str]:
    return fault_storm.setup_providers(store, PROVIDERS)


# -- the faults -----------------------------------------------------------------------


def test_follower_killed_during_claim_storm(cluster: EtcdCluster, tmp_path: Path) -> None:
    url = cluster.url("storm")
    with open_store(url) as store:
        providers = setup_providers(store)
        leader = cluster.wait_leader()
        follower = next(i for i in range(3) if i != leader)
        logs, fault_at = run_storm(url, providers, tmp_path, lambda: cluster.kill(follower))
        took = recovery_seconds(logs, fault_at)
        print(f"\nfollower {follower} killed: every worker acknowledged again after {took:.2f}s")
        check_sound(store, providers, logs)
    assert not any(log["unknown"] for log in logs), "a follower's loss must not fail a claim"


def test_leader_killed_during_claim_storm(cluster: EtcdCluster, tmp_path: Path) -> None:
    url = cluster.url("storm")
    with open_store(url) as store:
        providers = setup_providers(store)
        leader = cluster.wait_leader()
        logs, fault_at = run_storm(url, providers, tmp_path, lambda: cluster.kill(leader))
        took = recovery_seconds(logs, fault_at)
        new_leader = cluster.wait_leader()
        print(
            f"\nleader {leader} killed: member {new_leader} leads; every worker "
            f"acknowledged again after {took:.2f}s"
        )
        assert new_leader != leader
        check_sound(store, providers, logs)
        assert took < 5.0, "fail-over should take about one election, not the whole timeout"


def test_killed_member_rejoins_and_catches_up(cluster: EtcdCluster, tmp_path: Path) -> None:
    url = cluster.url("storm")
    victim = (cluster.wait_leader() + 1) % 3
    cluster.kill(victim)  # down before the storm: everything it sees must come from catch-up
    with open_store(url) as store:
        providers = setup_providers(store)
        rejoined: list[float] = []

        def restart() -> None:
            started = time.monotonic()
            cluster.restart(victim)
            rejoined.append(time.monotonic() - started)

        logs, _ = run_storm(url, providers, tmp_path, restart)
        print(f"\nmember {victim} restarted: serving linearizable reads after {rejoined[0]:.2f}s")
        check_sound(store, providers, logs)
        expected = {c: a for p in providers for c, a in store.provider_allocations(p).items()}
    # Read through the rejoined member alone: it must have the whole history.
    only = cluster.members[victim].address
    with open_store(f"etcd://{only}/storm") as direct:
        assert audit(direct) == []
        seen = {c: a for p in providers for c, a in direct.provider_allocations(p).items()}
        assert seen == expected
        assert len(direct.find_providers(ProviderQuery())) == PROVIDERS


def test_unreachable_cluster_at_start_names_every_address() -> None:
    ports = [free_port() for _ in range(3)]  # nothing listens there: connections are refused
    url = "etcd://" + ",".join(f"127.0.0.1:{p}" for p in ports)  # the default 10 s timeout
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as err:
        open_store(url)
    took = time.monotonic() - started
    message = str(err.value)
    for port in ports:
        assert f"127.0.0.1:{port}: connection refused" in message
    assert "endpoint health" in message  # says what to do next
    # Every member refused twice: the error comes at once, not after the 10 s timeout.
    assert took < 3, f"took {took:.1f}s"


def test_quorum_loss_fails_clearly_and_recovers(cluster: EtcdCluster) -> None:
    url = cluster.url("quorum") + "?timeout=2"
    with open_store(url) as store:
        providers = setup_providers(store)
        assert store.claim(Consumer(new_uuid(), "p", "u"), {providers[0]: {"VCPU": 1}}).ok
        survivor = cluster.wait_leader()
        lost = [i for i in range(3) if i != survivor]
        for i in lost:
            cluster.kill(i)
        during = Consumer(new_uuid(), "p", "u")
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="majority"):
            store.claim(during, {providers[1]: {"VCPU": 2}, providers[2]: {"VCPU": 2}})
        with pytest.raises(StoreUnavailable):
            store.get_provider_state(providers[0])
        failed_after = time.monotonic() - started
        down_at = time.monotonic()
        for i in lost:
            cluster.restart(i)
        cluster.wait_healthy()
        after = store.claim(Consumer(new_uuid(), "p", "u"), {providers[3]: {"VCPU": 1}})
        print(
            f"\nquorum lost: operations failed after {failed_after:.1f}s; "
            f"claims work again {time.monotonic() - down_at:.2f}s after restarting 2 members"
        )
        assert after.ok
        assert audit(store) == []
        # The claim that failed is either there whole or not at all.
        try:
            _, allocs = store.get_allocations(during.uuid)
        except ConsumerNotFound:
            allocs = {}
        assert allocs in ({}, {providers[1]: {"VCPU": 2}, providers[2]: {"VCPU": 2}})


def test_catalogue_follows_another_process_through_a_leader_kill(
    cluster: EtcdCluster,
) -> None:
    url = cluster.url("follow")
    with open_store(url) as reader, open_store(url) as writer:
        assert reader.find_providers(ProviderQuery()) == []
        cluster.kill(cluster.wait_leader())
        made = writer.create_provider("late")
        writer.set_inventories(made.uuid, 0, {"VCPU": Inventory(4)})
        # The reader's watch must move to a live member and deliver the other writer's
        # provider without the reader writing anything itself.
        wait_until(
            lambda: [s.provider.name for s in reader.find_providers(ProviderQuery({"VCPU": 4}))]
            == ["late"],
            10,
            "the reader's catalogue did not follow the writer",
        )
