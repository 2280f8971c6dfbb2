"""Build, reschedule, delete, resize and dead hosts, against every backend."""

from __future__ import annotations

import dataclasses
import random

import pytest

from berthing.agent import Agent
from berthing.conductor import Conductor
from berthing.model import (
    BuildRequest,
    BuildState,
    Heartbeat,
    Instance,
    InstanceState,
    InvalidInput,
    ProviderQuery,
    Record,
    RequestSpec,
)
from berthing.scheduler import Scheduler
from berthing.store import Store
from berthing.store.audit import audit
from tests.lifecycle.harness import (
    FLAVOR,
    agents,
    assert_usage_matches_live_instances,
    drive,
    request,
    state,
)


def conductor(store: Store, **kwargs: object) -> Conductor:
    return Conductor(store, Scheduler(store, rng=random.Random(3)), **kwargs)  # type: ignore[arg-type]


def hosts(fleet: list[Agent]) -> list[str]:
    return [a.uuid for a in fleet]


def test_build_goes_active(store: Store) -> None:
    fleet = agents(store, 3)
    c = conductor(store)
    key = c.submit(RequestSpec(FLAVOR, num_instances=2))
    assert state(store, key) == BuildState.PENDING
    drive([c], fleet, lambda: state(store, key) == BuildState.ACTIVE)
    instances = request(store, key).value.instances
    assert len(instances) == 2 and all(i.step == "ACTIVE" for i in instances.values())
    assert c.stats.active == 2
    assert audit(store) == []
    assert_usage_matches_live_instances(store, hosts(fleet))


def test_failed_build_is_rescheduled_on_an_alternate(store: Store) -> None:
    fleet = agents(store, 3)
    bad = fleet[0]
    bad.builder = lambda rec: "hypervisor exploded"
    c = conductor(store)
    spec = RequestSpec(FLAVOR, force_host=None)
    keys = [c.submit(spec) for _ in range(6)]
    drive([c], fleet, lambda: all(state(store, k) == BuildState.ACTIVE for k in keys))
    for k in keys:
        [inst] = request(store, k).value.instances.values()
        assert inst.host != bad.uuid
    assert c.stats.failed_builds >= 1 and c.stats.reschedules == c.stats.failed_builds
    assert store.provider_allocations(bad.uuid) == {}
    assert_usage_matches_live_instances(store, hosts(fleet))


def test_build_that_always_fails_ends_in_error_and_frees(store: Store) -> None:
    fleet = agents(store, 2, builder=lambda rec: "no image")
    c = conductor(store, max_build_attempts=2)
    key = c.submit(RequestSpec(FLAVOR))
    drive([c], fleet, lambda: state(store, key) == BuildState.ERROR)
    [inst] = request(store, key).value.instances.values()
    assert "no image" in inst.error and inst.attempts == 3
    assert all(store.provider_allocations(h) == {} for h in hosts(fleet))
    assert audit(store) == []


def test_no_valid_host_is_an_error_with_a_reason(store: Store) -> None:
    fleet = agents(store, 1)
    c = conductor(store)
    key = c.submit(RequestSpec({"VCPU": 64}))
    drive([c], fleet, lambda: state(store, key) == BuildState.ERROR)
    assert "no enabled provider has 64 VCPU free" in request(store, key).value.error


def test_delete_frees_resources(store: Store) -> None:
    fleet = agents(store, 2)
    c = conductor(store)
    key = c.submit(RequestSpec(FLAVOR))
    drive([c], fleet, lambda: state(store, key) == BuildState.ACTIVE)
    [iid] = request(store, key).value.instances
    c.delete(iid)
    drive([c], fleet, lambda: not store.list_records(Instance))
    assert state(store, key) == BuildState.DELETED
    assert all(store.provider_allocations(h) == {} for h in hosts(fleet))
    with pytest.raises(InvalidInput, match="holds no resources"):
        c.delete(iid)


def test_resize_in_place_and_by_moving(store: Store) -> None:
    fleet = agents(store, 2)
    c = conductor(store)
    key = c.submit(RequestSpec(FLAVOR))
    drive([c], fleet, lambda: state(store, key) == BuildState.ACTIVE)
    [iid] = request(store, key).value.instances
    first = store.get_allocations(iid)[1]
    [host] = first
    assert c.resize(iid, {"VCPU": 4, "MEMORY_MB": 4096}) == host
    assert store.get_allocations(iid)[1] == {host: {"VCPU": 4, "MEMORY_MB": 4096}}
    other = next(h for h in hosts(fleet) if h != host)
    # Fill the rest of the first host so that growing must move.
    assert c.resize(iid, {"VCPU": 8, "MEMORY_MB": 8192}) == host
    filler = c.submit(RequestSpec({"VCPU": 1, "MEMORY_MB": 512}, force_host=_name(store, other)))
    drive([c], fleet, lambda: state(store, filler) == BuildState.ACTIVE)
    assert c.resize(iid, {"VCPU": 2, "MEMORY_MB": 2048}) == host  # shrink stays
    store_hosts = hosts(fleet)
    assert audit(store) == []
    drive([c], fleet, lambda: _all_active(store))
    assert_usage_matches_live_instances(store, store_hosts)


def _name(store: Store, uuid: str) -> str:
    return store.get_provider(uuid).name


def _all_active(store: Store) -> bool:
    return all(r.value.state is InstanceState.ACTIVE for r in store.list_records(Instance))


def test_resize_moves_when_the_host_is_full(store: Store) -> None:
    fleet = agents(store, 2)
    c = conductor(store)
    a, b = fleet
    k1 = c.submit(RequestSpec(FLAVOR, force_host=a.host.name))
    drive([c], fleet, lambda: state(store, k1) == BuildState.ACTIVE)
    k2 = c.submit(RequestSpec({"VCPU": 6, "MEMORY_MB": 6144}, force_host=a.host.name))
    drive([c], fleet, lambda: state(store, k2) == BuildState.ACTIVE)
    [iid] = request(store, k1).value.instances
    assert c.resize(iid, {"VCPU": 4, "MEMORY_MB": 4096}) == b.uuid
    assert store.get_allocations(iid)[1] == {b.uuid: {"VCPU": 4, "MEMORY_MB": 4096}}
    drive([c], fleet, lambda: _all_active(store))
    assert_usage_matches_live_instances(store, hosts(fleet))


def test_silent_host_is_disabled_and_its_builds_rescheduled(store: Store) -> None:
    fleet = agents(store, 2, heartbeat_ttl=0.5)
    dead, alive = fleet
    c = conductor(store)
    key = c.submit(RequestSpec(FLAVOR, force_host=None, ignore_hosts=frozenset({alive.uuid})))
    c.step()  # scheduled onto `dead`, dispatched, but `dead` never polls again
    c.step()
    assert request(store, key).value.instances
    drive([c], [], lambda: store.get_record(Heartbeat, dead.uuid) is None, timeout=10)
    alive.heartbeat()
    assert c.reap(hosts(fleet)) == [dead.uuid]
    assert "COMPUTE_STATUS_DISABLED" in store.get_provider(dead.uuid).traits
    others = [c.submit(RequestSpec(FLAVOR)) for _ in range(3)]
    drive([c], [alive], lambda: all(state(store, k) == BuildState.ACTIVE for k in others))
    assert all(_host_of(request(store, k)) == alive.uuid for k in others)
    # The in-flight build was failed by the reaper; its reschedule ignores `alive`
    # (the request's own ignore list) so it ends in ERROR, freed, not stuck.
    drive([c], [alive], lambda: state(store, key) == BuildState.ERROR)
    assert store.provider_allocations(dead.uuid) == {}
    dead.register()  # it comes back: re-registering clears the down-mark
    assert "COMPUTE_STATUS_DISABLED" not in store.get_provider(dead.uuid).traits
    assert store.find_providers(ProviderQuery(name=dead.host.name))


def _host_of(rec: Record[BuildRequest]) -> str:
    [inst] = rec.value.instances.values()
    return inst.host


def test_classic_mode_races_surface_as_failed_builds(store: Store) -> None:
    """Two classic schedulers (two cells sharing the hosts) each trust their own copy:
    together they overbook, the hosts' build-time claims refuse, and builds retry.
    The store still never over-allocates."""
    from berthing.sim.classic import classic_scheduler

    fleet = agents(store, 2)  # 16 VCPU in all: room for four 4-VCPU instances
    conductors = [
        Conductor(
            store,
            classic_scheduler(store, rng=random.Random(i), refresh_interval=60),
            cell=f"cell{i}",
        )
        for i in range(2)
    ]
    keys = [
        c.submit(RequestSpec({"VCPU": 4, "MEMORY_MB": 4096})) for c in conductors for _ in range(3)
    ]
    for c in conductors:
        c.step()  # both schedule before any host builds: neither sees the other
    done = ("ACTIVE", "ERROR")
    drive(conductors, fleet, lambda: all(state(store, k) in done for k in keys))
    assert [state(store, k) for k in keys].count("ACTIVE") == 4
    assert sum(c.stats.race_failures for c in conductors) >= 2
    assert audit(store) == []
    assert_usage_matches_live_instances(store, hosts(fleet))


def test_owner_dead_mid_scheduling_is_recovered(store: Store) -> None:
    """A conductor claimed hosts, then died before recording them: its lease runs out,
    another conductor frees those claims and schedules the request afresh."""
    fleet = agents(store, 2)
    dead = conductor(store, scheduling_lease=0.2)
    key = dead.submit(RequestSpec(FLAVOR))
    rec = request(store, key)
    owned = dataclasses.replace(
        rec.value, state=BuildState.SCHEDULING, owner=dead.name, deadline=0.0
    )
    store.put_record(key, owned, rec.revision)  # as if it died here
    [orphan] = dead.scheduler.select_destinations(
        RequestSpec(FLAVOR, instance_uuids=rec.value.spec.instance_uuids)
    )
    assert store.provider_allocations(orphan.destination.host_uuid)
    successor = conductor(store)
    drive([successor], fleet, lambda: state(store, key) == BuildState.ACTIVE)
    assert audit(store) == []
    assert_usage_matches_live_instances(store, hosts(fleet))


class _AnotherConductorFirst:
    """The store as a conductor sees it when another conductor deletes the same failed
    instance's record a moment before it does."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    def delete_record(self, cls: type[Instance], key: str, revision: int | None = None) -> bool:
        self._store.delete_record(cls, key, revision)
        return self._store.delete_record(cls, key, revision)


def test_a_failure_another_conductor_took_is_not_counted_twice(store: Store) -> None:
    fleet = agents(store, 2, builder=lambda rec: "no image")
    c = conductor(store)
    key = c.submit(RequestSpec(FLAVOR))

    def failed() -> bool:
        return any(r.value.state is InstanceState.FAILED for r in store.list_records(Instance))

    drive([c], fleet, failed)  # the host failed the build; no conductor has seen it yet
    late = Conductor(_AnotherConductorFirst(store), c.scheduler)  # type: ignore[arg-type]
    host = _host_of(request(store, key))
    late.step()
    assert (late.stats.failed_builds, late.stats.race_failures, late.stats.reschedules) == (0, 0, 0)
    assert _host_of(request(store, key)) == host  # left to the conductor that took it
