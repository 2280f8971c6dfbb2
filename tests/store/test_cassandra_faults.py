"""The Cassandra store under faults, on the session's real 3-node cluster.

* One node SIGKILLed (a crashed host) during a claim storm from several OS processes:
  claims go on through the other two, and afterwards the store holds exactly what was
  acknowledged; again after the node is restarted and has rejoined, read through the
  restarted node.
* Two of three killed: operations fail promptly with ``StoreUnavailable`` that says what
  to do, nothing is left half-written, and claims work again once the nodes are back.
* A scheduler process SIGKILLed in the middle of a claim on a host and its shared
  storage pool, after each lightweight transaction of the freeze-and-commit protocol
  (``berthing/store/cassandra/claims.py``): no over-allocation, and what the dead claim
  held is free (or its committed claim finished) within ``STALE`` plus a little.

Each test prints what it measured (``pytest -s`` shows it). The tests that kill nodes
restart them before they end, so the session's cluster is whole for the tests after.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid as uuidlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from berthing.devtools.cassandra_cluster import CassandraCluster
from berthing.model import (
    Claimed,
    ClaimResult,
    Consumer,
    ConsumerNotFound,
    Inventory,
    ProviderQuery,
    StoreUnavailable,
    new_uuid,
)
from berthing.store import Store, open_store
from berthing.store.audit import audit
from berthing.store.cassandra.backend import TEND_EVERY, CassandraStore
from berthing.store.cassandra.consumers import STALE
from berthing.store.cassandra.session import Cql
from tests.cassandra_fixtures import KEYSPACE, Running
from tests.procs import SPAWN
from tests.store.fault_storm import (
    Log,
    check_sound,
    recovery_seconds,
    run_storm,
    setup_pools,
    setup_providers,
    stall_seconds,
)

pytestmark = pytest.mark.slow

WORKERS, HOSTS, POOLS, STORM_SECONDS, FAULT_AT = 3, 12, 2, 10.0, 3.0
#: Acknowledged writes a storm must reach (a claim takes 0.1-1 s on a busy 2-core box).
LEAST_ACKS = 30
#: Operations with a majority down must fail within this (the issue: promptly, not hang).
FAIL_WITHIN = 15.0
#: The store's own retry budget in the quorum-loss test (URL option ``timeout``).
QUORUM_TIMEOUT = 5
#: A dead writer's change holds its providers until it is STALE, then the next writer
#: (or the sweeper, every TEND_EVERY) settles it: a few round trips on top of that.
LEAK_BOUND = STALE + TEND_EVERY + 3.0
Allocs = dict[str, dict[str, int]]


@pytest.fixture
def cluster(cassandra_cluster: CassandraCluster | Running) -> Iterator[CassandraCluster]:
    """The session's cluster, made whole again afterwards (these tests kill nodes)."""
    if not isinstance(cassandra_cluster, CassandraCluster):
        pytest.skip("kills nodes: needs the cluster the tests start themselves")
    yield cassandra_cluster
    down = [n.index for n in cassandra_cluster.nodes if not n.running]
    if down:
        cassandra_cluster.restart_many(down)


@pytest.fixture
def url(cassandra_cluster: CassandraCluster | Running) -> str:
    """A fresh store in the test keyspace (any cluster: this one kills no node)."""
    return f"{cassandra_cluster.url(KEYSPACE)}/t{uuidlib.uuid4().hex[:16]}"


def store_url(cluster: CassandraCluster, hosts: list[str] | None = None) -> str:
    """A fresh store's URL through ``hosts`` (default: every node)."""
    points = ",".join(hosts or cluster.hosts)
    return f"cassandra://{points}:{cluster.port}/{KEYSPACE}/t{uuidlib.uuid4().hex[:16]}"


def through(url: str, host: str) -> str:
    """The same store with ``host`` as the only contact point."""
    rest = url.removeprefix("cassandra://")
    port_and_path = rest.split(",")[-1].split(":", 1)[1]
    return f"cassandra://{host}:{port_and_path}"


def allocations_of(store: Store, uuid: str) -> Allocs:
    try:
        return store.get_allocations(uuid)[1]
    except ConsumerNotFound:
        return {}


def frozen(store: Store, uuids: list[str]) -> dict[str, str]:
    """Providers held by a multi-provider change, read afresh: the freeze is the
    Cassandra backend's own state, which no contract method shows."""
    assert isinstance(store, CassandraStore)
    states = store._partitions.read_many(uuids)
    return {u: s.frozen for u, s in states.items() if s is not None and s.frozen}


# -- one node of three --------------------------------------------------------------------


def test_node_killed_during_claim_storm_then_rejoins(
    cluster: CassandraCluster, tmp_path: Path
) -> None:
    victim = 2
    url = store_url(cluster)
    with open_store(url) as store:
        hosts = setup_providers(store, HOSTS)
        pools = setup_pools(store, hosts, POOLS)
        logs, fault_at = run_storm(
            url, hosts, tmp_path, lambda: cluster.kill(victim),
            workers=WORKERS, seconds=STORM_SECONDS, fault_at=FAULT_AT, pools=pools,
        )  # fmt: skip
        ended = min(log["ended"] for log in logs)
        before = stall_seconds(logs, None, fault_at)
        stall = stall_seconds(logs, fault_at, ended)
        first = recovery_seconds(logs, fault_at)
        acks = sum(len([t for t in log["ok_at"] if t > fault_at]) for log in logs)
        multi = sum(log["multi"] for log in logs)
        print(
            f"\nnode{victim + 1} SIGKILLed {FAULT_AT}s into the storm: {acks} writes acknowledged "
            f"in the {ended - fault_at:.1f}s after ({multi} two-provider claims in all); "
            f"longest wait for an ack {stall:.2f}s after the kill, {before:.2f}s before; "
            f"every worker acknowledged again {first:.2f}s after the kill"
        )
        assert not any(log["unknown"] for log in logs), "one node's loss must not fail a claim"
        assert multi > 0, "no two-provider claim was made"
        check_sound(store, hosts + pools, logs, LEAST_ACKS)

        started = time.monotonic()
        cluster.restart(victim)
        rejoined = time.monotonic() - started
        print(f"node{victim + 1} restarted: it and its peers saw each other UP in {rejoined:.1f}s")
        check_sound(store, hosts + pools, logs, LEAST_ACKS)

    address = cluster.nodes[victim].address
    with open_store(through(url, address)) as direct:
        assert isinstance(direct, CassandraStore)
        up = sorted(h.address for h in direct._cql._cluster.metadata.all_hosts() if h.is_up)
        assert up == cluster.hosts, "the driver does not see every node up through it"
        check_sound(direct, hosts + pools, logs, LEAST_ACKS)
        host = direct.create_provider("late")
        direct.set_inventories(host.uuid, 0, {"VCPU": Inventory(4)})
        late = Consumer(new_uuid(), "p", "u")
        assert direct.claim(late, {host.uuid: {"VCPU": 4}}).ok
        assert direct.get_allocations(late.uuid)[1] == {host.uuid: {"VCPU": 4}}
        assert audit(direct) == []


# -- two nodes of three -------------------------------------------------------------------


def timed_failure(call: Any) -> tuple[float, StoreUnavailable]:
    """Run ``call``, which must fail with StoreUnavailable; how long it took, and the error."""
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as err:
        call()
    return time.monotonic() - started, err.value


def test_majority_killed_fails_clearly_and_recovers(
    cluster: CassandraCluster, tmp_path: Path
) -> None:
    """Two nodes SIGKILLed under a storm: every operation fails promptly and says what to
    do; after a restart, claims work again and nothing is half-written, including the
    changes the kill cut at any step."""
    lost = [1, 2]
    url = f"{store_url(cluster)}?timeout={QUORUM_TIMEOUT}"
    with open_store(url) as store:
        hosts = setup_providers(store, 6)
        pools = setup_pools(store, hosts, 1)
        mine: Log = {"acked": {}, "unknown": {}, "released": [], "ok_at": []}
        took: dict[str, float] = {}
        errors: list[StoreUnavailable] = []

        def fail(name: str, call: Callable[[], object]) -> None:
            took[name], error = timed_failure(call)
            errors.append(error)

        def kill_majority() -> None:
            for i in lost:
                cluster.kill(i)
            two, one = Consumer(new_uuid(), "p", "u"), Consumer(new_uuid(), "p", "u")
            mine["unknown"][two.uuid] = {hosts[0]: {"VCPU": 2}, pools[0]: {"DISK_GB": 20}}
            mine["unknown"][one.uuid] = {hosts[1]: {"VCPU": 1}}
            fail("a two-provider claim", lambda: store.claim(two, mine["unknown"][two.uuid]))
            fail("a one-provider claim", lambda: store.claim(one, mine["unknown"][one.uuid]))
            fail("a read", lambda: store.get_provider_state(hosts[0]))

        logs, _ = run_storm(
            url, hosts, tmp_path, kill_majority,
            workers=WORKERS, seconds=STORM_SECONDS, fault_at=FAULT_AT, pools=pools,
        )  # fmt: skip
        failed = [t for log in logs for t in log["failed_after"]]
        print(
            f"\nnodes {[i + 1 for i in lost]} SIGKILLed: "
            + ", ".join(f"{name} failed after {t:.1f}s" for name, t in took.items())
            + f"; {len(failed)} storm operations failed, after {min(failed, default=0):.1f}-"
            f"{max(failed, default=0):.1f}s; the claim's error: {errors[0]}"
        )
        assert failed, "no storm operation met the lost majority"
        assert max([*took.values(), *failed]) < FAIL_WITHIN
        for error in errors:
            assert "majority" in error.hint and "nodetool status" in error.hint, error

        started = time.monotonic()
        cluster.restart_many(lost)
        rejoined = time.monotonic() - started
        # The storm may have filled every host it used: claim on one it never touched,
        # so a refusal can only mean the store has not recovered.
        spare = setup_providers(store, 1, prefix="spare")[0]
        after = Consumer(new_uuid(), "p", "u")
        assert store.claim(after, {spare: {"VCPU": 1}}).ok
        mine["acked"][after.uuid] = {spare: {"VCPU": 1}}
        print(
            f"restarted both: they and the survivor saw each other UP after {rejoined:.1f}s; "
            f"a claim succeeded {time.monotonic() - started:.1f}s after the restart began"
        )
        # Nothing half-written: what the kill cut is settled once STALE (a fresh read
        # shows this process's sweeper the providers a dead change still holds), and
        # then every change is there whole or not at all.
        time.sleep(STALE)
        assert audit(store) == []
        wait_unfrozen(store, hosts + pools, LEAK_BOUND)
        check_sound(store, [*hosts, *pools, spare], [*logs, mine], least=5)


def wait_unfrozen(store: Store, uuids: list[str], within: float) -> float:
    """Seconds until no provider of ``uuids`` is frozen; fails after ``within``."""
    started = time.monotonic()
    while held := frozen(store, uuids):
        assert time.monotonic() - started < within, f"still frozen after {within:.0f}s: {held}"
        time.sleep(0.1)
    return time.monotonic() - started


# -- a scheduler killed mid-claim ---------------------------------------------------------

#: The lightweight transactions of a new consumer's claim on two providers, in order
#: (``claims.py``: pend, freeze each leg in uuid order, commit, apply each leg, finalize).
STEPS = (
    "pending a consumer",
    "freezing a provider",
    "freezing a provider",
    "deciding change",  # the commit point: the decision and the plan, in ``intents``
    "applying a claim",
    "applying a claim",
    "settling a consumer",
)
COMMIT = STEPS.index("deciding change") + 1


def claim_and_die(url: str, consumer: str, allocs: Allocs, die_after: int, out: str) -> None:
    """A scheduler that SIGKILLs itself right after the ``die_after``-th lightweight
    transaction of its claim (0: never), before it does anything else with the result,
    not even tell other processes' catalogues. Runs in a spawned process of its own."""
    store = open_store(url)
    steps: list[str] = []
    cas = Cql.cas

    def counted(self: Cql, *args: Any, **kwargs: Any) -> Any:
        result = cas(self, *args, **kwargs)
        if threading.current_thread() is threading.main_thread():  # not the sweeper
            what = str(args[1] if len(args) > 1 else kwargs["what"])
            # "deciding change <op id>": the op id differs per run
            steps.append(what.rsplit(" ", 1)[0] if what.startswith("deciding") else what)
            Path(out).write_text(json.dumps(steps))
            if len(steps) == die_after:
                os.kill(os.getpid(), signal.SIGKILL)
        return result

    Cql.cas = counted  # type: ignore[method-assign]  # this process only
    result = store.claim(Consumer(consumer, "p", "u"), allocs)
    assert isinstance(result, Claimed), result
    store.close()


def crash(url: str, consumer: str, allocs: Allocs, die_after: int, tmp_path: Path) -> list[str]:
    """Run ``claim_and_die`` in a real process; the steps it completed."""
    out = tmp_path / f"steps-{consumer}.json"
    proc = SPAWN.Process(target=claim_and_die, args=(url, consumer, allocs, die_after, str(out)))
    proc.start()
    proc.join(120)
    expected = -signal.SIGKILL if die_after else 0
    assert proc.exitcode == expected, f"the scheduler exited with {proc.exitcode}"
    return list(json.loads(out.read_text()))


def host_and_pool(store: Store) -> tuple[str, str, Allocs]:
    """A host and the storage pool it shares, and a claim on all of both."""
    host = setup_providers(store, 1)[0]
    pool = setup_pools(store, [host], 1)[0]
    return host, pool, {host: {"VCPU": 16, "MEMORY_MB": 4096}, pool: {"DISK_GB": 400}}


def test_a_two_provider_claim_takes_these_steps(url: str, tmp_path: Path) -> None:
    """What the crash tests below rely on: they kill the scheduler after each of these."""
    with open_store(url) as store:
        host, pool, allocs = host_and_pool(store)
        consumer = new_uuid()
        assert crash(url, consumer, allocs, 0, tmp_path) == list(STEPS)
        assert store.get_allocations(consumer)[1] == allocs


@pytest.mark.parametrize("step", range(1, len(STEPS) + 1), ids=lambda n: f"after-{n}")
def test_scheduler_killed_mid_claim_neither_over_allocates_nor_leaks(
    url: str, tmp_path: Path, step: int
) -> None:
    """The next writer wants all of both providers: exactly one of the dead claim and
    it may have them. It waits out a change still holding a provider it needs and
    settles it; a leg it does not need is settled by its process's sweeper."""
    with open_store(url) as store:
        host, pool, allocs = host_and_pool(store)
        dead = new_uuid()
        assert crash(url, dead, allocs, step, tmp_path) == list(STEPS[:step])
        killed = time.monotonic()
        assert audit(store) == [], "over-allocated or inconsistent right after the crash"
        other = Consumer(new_uuid(), "p", "u")
        result: ClaimResult = store.claim(other, allocs)
        answered = time.monotonic() - killed
        wait_unfrozen(store, [host, pool], LEAK_BOUND)
        settled = time.monotonic() - killed
        print(
            f"\nscheduler killed after step {step} ({STEPS[step - 1]}): the next writer's "
            f"claim on the same capacity answered {type(result).__name__} after "
            f"{answered:.2f}s; nothing held by the dead claim after {settled:.2f}s"
        )
        committed = step >= COMMIT
        assert result.ok is not committed
        assert allocations_of(store, dead) == (allocs if committed else {})
        assert allocations_of(store, other.uuid) == ({} if committed else allocs)
        assert audit(store) == []
        assert settled < LEAK_BOUND


@pytest.mark.parametrize("step", [2, 3, COMMIT, COMMIT + 1], ids=lambda n: f"after-{n}")
def test_scheduler_killed_mid_claim_is_swept_without_a_writer(
    url: str, tmp_path: Path, step: int
) -> None:
    """Nobody writes the providers: the sweeper of a process that has read them settles
    the dead change (committed ones finish, the others are undone)."""
    with open_store(url) as store:
        host, pool, allocs = host_and_pool(store)
        dead = new_uuid()
        crash(url, dead, allocs, step, tmp_path)
        killed = time.monotonic()
        store.get_provider_state(host)  # a reader: its catalogue now knows of the freeze
        store.get_provider_state(pool)
        took = wait_unfrozen(store, [host, pool], LEAK_BOUND)
        swept = time.monotonic() - killed
        print(
            f"\nscheduler killed after step {step} ({STEPS[step - 1]}): swept "
            f"{swept:.2f}s after the kill (waited {took:.2f}s)"
        )
        committed = step >= COMMIT
        assert allocations_of(store, dead) == (allocs if committed else {})
        used = store.get_provider_state(host).usages.get("VCPU", 0)
        assert used == (16 if committed else 0)
        assert audit(store) == []


# -- an LWT lost with its coordinator -----------------------------------------------------


def lose_first(monkeypatch: pytest.MonkeyPatch, what: str) -> list[str]:
    """The first LWT of this process called ``what`` is lost: not sent, its outcome
    unknown (None), as when its coordinator dies before any replica accepted it. What
    the kill in the storm above does by chance, here at one chosen LWT."""
    lost: list[str] = []
    cas = Cql.cas

    def lossy(self: Cql, queries: Any, said: str, side: Any = ()) -> Any:
        if said == what and not lost:
            lost.append(said)
            return None
        return cas(self, queries, said, side)

    monkeypatch.setattr(Cql, "cas", lossy)
    return lost


@pytest.mark.parametrize("what", ["applying a claim", "settling a consumer"])
def test_a_lost_lwt_of_a_committed_claim_is_sent_again(
    url: str, monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    with open_store(url) as store:
        host, pool, allocs = host_and_pool(store)
        lost = lose_first(monkeypatch, what)
        consumer = Consumer(new_uuid(), "p", "u")
        assert store.claim(consumer, allocs).ok
        assert lost == [what]
        assert store.get_allocations(consumer.uuid)[1] == allocs
        assert frozen(store, [host, pool]) == {}
        assert audit(store) == []


def test_a_lost_unfreeze_is_sent_again(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A claim that loses after freezing (its process's catalogue was stale) unfreezes
    at once even when the first unfreeze is lost, instead of holding the providers
    until recovery finds them STALE."""
    with open_store(url) as store, open_store(url) as stale:
        host, pool, allocs = host_and_pool(store)
        assert isinstance(stale, CassandraStore)
        stale.find_providers(ProviderQuery())
        stale._stop.set()  # its catalogue no longer follows the others' writes
        stale._tender.join()
        assert store.claim(Consumer(new_uuid(), "p", "u"), allocs).ok
        lost = lose_first(monkeypatch, "unfreezing a provider")
        started = time.monotonic()
        result = stale.claim(Consumer(new_uuid(), "p", "u"), allocs)
        assert not result.ok and lost == ["unfreezing a provider"]
        assert frozen(store, [host, pool]) == {}, "a provider stays held by a lost claim"
        assert time.monotonic() - started < STALE
