"""The conductor: drives build requests through scheduler and host, reschedules failed
builds onto alternates, and turns a silent host into a disabled one.

One ``step()`` advances every open request as far as it can and returns how many
transitions it made; ``run()`` loops it. Several conductors may run at once: each
transition is a compare-and-set, and losing one simply means another conductor made it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
import uuid as uuidlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from berthing.agent import HEARTBEAT, INSTANCE, InstanceState, instance_key
from berthing.conductor.build_request import (
    BUILD_REQUEST,
    TERMINAL,
    BuildState,
    InstanceStep,
    overall_state,
)
from berthing.model import (
    DISABLED_TRAIT,
    BerthingError,
    Claimed,
    Consumer,
    ConsumerNotFound,
    GenerationConflict,
    InvalidInput,
    Record,
    new_uuid,
)
from berthing.scheduler import NoValidHost, RequestSpec, Scheduler, Selection, leave_group
from berthing.scheduler.request import spec_from_dict, spec_to_dict
from berthing.store import Store

__all__ = ["Conductor", "ConductorStats"]

log = logging.getLogger(__name__)


@dataclass
class ConductorStats:
    scheduled: int = 0
    active: int = 0
    errors: int = 0
    failed_builds: int = 0
    race_failures: int = 0
    """Failed builds whose host refused the claim: a scheduling race (classic mode)."""
    reschedules: int = 0
    hosts_marked_down: int = 0


class Conductor:
    def __init__(
        self,
        store: Store,
        scheduler: Scheduler,
        *,
        cell: str = "cell1",
        name: str | None = None,
        max_build_attempts: int = 3,
        scheduling_lease: float = 30.0,
    ) -> None:
        self.store = store
        self.scheduler = scheduler
        self.cell = cell
        self.name = name or f"conductor-{uuidlib.uuid4().hex[:8]}"
        self.max_build_attempts = max_build_attempts
        self.scheduling_lease = scheduling_lease
        self.stats = ConductorStats()
        self.open: dict[str, Record] = {}
        self._revision = 0
        #: Whether the scheduler claims (berthing) or the host does at build (classic).
        self.claims_in_scheduler = scheduler.claims

    # -- requests from the API -------------------------------------------------------

    def submit(self, spec: RequestSpec) -> str:
        """Record a build request (PENDING); returns its key."""
        spec = dataclasses.replace(spec, instance_uuids=spec.uuids())
        key = f"{self.cell}/{new_uuid()}"
        value = {
            "cell": self.cell,
            "state": BuildState.PENDING.value,
            "spec": spec_to_dict(spec),
            "instances": {},
            "error": "",
            "created": time.time(),
        }
        self.store.put_record(BUILD_REQUEST, key, value)
        return key

    def delete(self, instance_uuid: str) -> None:
        """Ask the instance's host to destroy it; the host frees its resources."""
        rec = self._instance_record(instance_uuid)
        value = {**rec.value, "state": InstanceState.DELETING.value}
        self.store.put_record(INSTANCE, rec.key, value, rec.revision)
        self._update_instance(rec.value["request"], instance_uuid, step=InstanceStep.DELETED)
        group = rec.value.get("server_group")
        if group:
            leave_group(self.store, group, instance_uuid)

    def resize(self, instance_uuid: str, resources: Mapping[str, int]) -> str:
        """Replace an instance's allocation atomically: in place if the host has room,
        else on a host the scheduler picks (the old host's record is then dropped).
        Returns the host uuid the instance ends up on."""
        rec = self._instance_record(instance_uuid)
        consumer, held = self.store.get_allocations(instance_uuid)
        host = rec.key.split("/", 1)[0]
        in_place = {**held, host: dict(resources)}
        result = self.store.claim(consumer, in_place)
        if isinstance(result, Claimed):
            self._rewrite_instance(rec, in_place)
            return host
        request = self.store.get_record(BUILD_REQUEST, rec.value["request"])
        base = spec_from_dict(request.value["spec"]) if request else RequestSpec(resources)
        spec = dataclasses.replace(
            base,
            resources=dict(resources),
            num_instances=1,
            instance_uuids=(instance_uuid,),
            ignore_hosts=frozenset(),
            # A move ignores where the boot was forced, as Nova's
            # reset_forced_destinations() does: otherwise it could only stay put.
            force_host=None,
        )
        selection = self.scheduler.move(spec, consumer)
        new_host = selection.destination.host_uuid
        self.store.put_record(
            INSTANCE,
            instance_key(new_host, instance_uuid),
            {
                **rec.value,
                "state": InstanceState.BUILD.value,
                "allocations": selection.destination.allocations,
                "claimed": True,
            },
        )
        self.store.delete_record(INSTANCE, rec.key)
        # The request follows the rebuild on the new host again (failures reschedule).
        self._update_instance(
            rec.value["request"],
            instance_uuid,
            host=new_host,
            host_name=selection.destination.host_name,
            allocations=selection.destination.allocations,
            step=InstanceStep.BUILDING.value,
            dispatched=True,
        )
        return new_host

    # -- the loop --------------------------------------------------------------------

    def run(self, stop: Callable[[], bool], idle_sleep: float = 0.01) -> None:
        while not stop():
            if not self.step():
                time.sleep(idle_sleep)

    def step(self) -> int:
        self._refresh()
        moved = 0
        instance_records = self._watched_instances()
        for key in list(self.open):
            try:
                moved += self._advance(self.open[key], instance_records)
            except GenerationConflict:
                self._reread(key)  # another conductor moved it on
            except BerthingError:
                # One request's trouble must not stop the others: it stays open and is
                # tried again next step; the log says what went wrong.
                log.exception("%s: cannot advance %s", self.name, key)
        return moved

    def _reread(self, key: str) -> None:
        rec = self.store.get_record(BUILD_REQUEST, key)
        if rec is None or BuildState(rec.value["state"]) in TERMINAL:
            self.open.pop(key, None)
        else:
            self.open[key] = rec

    def _refresh(self) -> None:
        for rec in self.store.list_records(BUILD_REQUEST, f"{self.cell}/", self._revision):
            self._revision = max(self._revision, rec.revision)
            if BuildState(rec.value["state"]) in TERMINAL:
                self.open.pop(rec.key, None)
            else:
                self.open[rec.key] = rec

    def _watched_instances(self) -> dict[str, Record]:
        keys = [
            instance_key(i["host"], iid)
            for rec in self.open.values()
            if rec.value["state"] == BuildState.BUILDING
            for iid, i in rec.value["instances"].items()
            if i["step"] == InstanceStep.BUILDING
        ]
        return self.store.get_records(INSTANCE, keys) if keys else {}

    def _advance(self, rec: Record, instance_records: dict[str, Record]) -> int:
        state = BuildState(rec.value["state"])
        if state is BuildState.PENDING:
            return self._schedule(rec)
        if state is BuildState.SCHEDULING and rec.value["deadline"] < time.time():
            return self._recover(rec)
        if state is BuildState.SCHEDULED:
            return self._dispatch(rec)
        if state is BuildState.BUILDING:
            return self._follow(rec, instance_records)
        return 0

    # -- transitions -----------------------------------------------------------------

    def _cas(self, rec: Record, **changes: Any) -> Record:
        value = {**rec.value, **changes, "updated": time.time()}
        new = self.store.put_record(BUILD_REQUEST, rec.key, value, rec.revision)
        if BuildState(value["state"]) in TERMINAL:
            self.open.pop(rec.key, None)
        else:
            self.open[rec.key] = new
        return new

    def _schedule(self, rec: Record) -> int:
        """Own the request for a lease, then let the scheduler claim hosts for it."""
        rec = self._cas(
            rec,
            state=BuildState.SCHEDULING.value,
            owner=self.name,
            deadline=time.time() + self.scheduling_lease,
        )
        spec = spec_from_dict(rec.value["spec"])
        try:
            selections = self.scheduler.select_destinations(spec)
        except (NoValidHost, InvalidInput) as exc:
            self.stats.errors += spec.num_instances
            self._cas(rec, state=BuildState.ERROR.value, error=exc.message)
            return 1
        instances = {s.consumer.uuid: _instance_entry(s, spec) for s in selections}
        self.stats.scheduled += len(instances)
        self._cas(
            rec, state=BuildState.SCHEDULED.value, instances=instances, scheduled_at=time.time()
        )
        return 1

    def _recover(self, rec: Record) -> int:
        """The owner died mid-scheduling: free whatever it claimed and start over."""
        for iid in rec.value["spec"]["instance_uuids"]:
            with contextlib.suppress(ConsumerNotFound):
                self.store.release(iid)
            group = rec.value["spec"].get("server_group")
            if group:
                leave_group(self.store, group, iid)
        log.warning("%s: recovering %s from %s", self.name, rec.key, rec.value.get("owner"))
        self._cas(rec, state=BuildState.PENDING.value, owner=None)
        return 1

    def _dispatch(self, rec: Record) -> int:
        """Write each instance's record under its host's prefix: the agent's work item."""
        instances = {k: dict(v) for k, v in rec.value["instances"].items()}
        spec = rec.value["spec"]
        for iid, inst in instances.items():
            if inst["dispatched"]:
                continue
            value = {
                "state": InstanceState.BUILD.value,
                "request": rec.key,
                "cell": self.cell,
                "allocations": inst["allocations"],
                "claimed": self.claims_in_scheduler,
                "project_id": spec["project_id"],
                "user_id": spec["user_id"],
                "server_group": spec.get("server_group"),
            }
            with contextlib.suppress(
                GenerationConflict
            ):  # written before a crash; the agent has it already
                self.store.put_record(INSTANCE, instance_key(inst["host"], iid), value)
            inst["dispatched"] = True
        self._cas(rec, state=overall_state(instances).value, instances=instances)
        return 1

    def _follow(self, rec: Record, records: dict[str, Record]) -> int:
        """Read the agents' outcomes; reschedule failed builds."""
        instances = {k: dict(v) for k, v in rec.value["instances"].items()}
        changed = False
        for iid, inst in instances.items():
            found = records.get(instance_key(inst["host"], iid))
            if inst["step"] != InstanceStep.BUILDING or found is None:
                continue
            state = found.value["state"]
            if state == InstanceState.ACTIVE:
                inst["step"] = InstanceStep.ACTIVE.value
                self.stats.active += 1
                changed = True
            elif state == InstanceState.FAILED:
                self.stats.failed_builds += 1
                self.stats.race_failures += found.value.get("cause") == "claim"
                self.store.delete_record(INSTANCE, found.key, found.revision)
                self._reschedule(rec, iid, inst, found.value.get("error", ""))
                changed = True
        if not changed:
            return 0
        self._cas(rec, state=overall_state(instances).value, instances=instances)
        return 1

    def _reschedule(self, rec: Record, iid: str, inst: dict[str, Any], error: str) -> None:
        inst["failed_hosts"] = [*inst["failed_hosts"], inst["host"]]
        inst["attempts"] += 1
        inst["dispatched"] = False
        if inst["attempts"] > self.max_build_attempts:
            self._give_up(iid, inst, f"build failed {inst['attempts'] - 1} times; last: {error}")
            return
        self.stats.reschedules += 1
        dest = self._next_destination(rec, iid, inst)
        if dest is None:
            return
        inst.update(
            host=dest["host_uuid"], host_name=dest["host_name"], allocations=dest["allocations"]
        )

    def _next_destination(
        self, rec: Record, iid: str, inst: dict[str, Any]
    ) -> dict[str, Any] | None:
        """An alternate first (one claim, no scheduling pass), else a fresh placement."""
        failed = set(inst["failed_hosts"])
        alternates = [a for a in inst["alternates"] if a["host_uuid"] not in failed]
        consumer = self._current_consumer(iid) if self.claims_in_scheduler else None
        if not self.claims_in_scheduler:
            _release_quietly(self.store, iid)  # classic: the next host claims afresh
            if alternates:
                inst["alternates"] = alternates[1:]
                return dict(alternates[0])
        elif consumer is not None:
            for i, alt in enumerate(alternates):
                if isinstance(self.store.claim(consumer, alt["allocations"]), Claimed):
                    inst["alternates"] = alternates[i + 1 :]
                    return dict(alt)
        spec = dataclasses.replace(
            spec_from_dict(rec.value["spec"]),
            num_instances=1,
            instance_uuids=(iid,),
            ignore_hosts=frozenset(failed),
        )
        try:
            if consumer is not None:
                sel = self.scheduler.move(spec, consumer)
            else:  # classic, or the claim is gone: place (and, if we claim, claim) anew
                sel = self.scheduler.select_destinations(spec)[0]
        except (NoValidHost, ConsumerNotFound) as exc:
            self._give_up(iid, inst, f"reschedule found no host: {exc}")
            return None
        inst["alternates"] = [dataclasses.asdict(a) for a in sel.alternates]
        return dataclasses.asdict(sel.destination)

    def _current_consumer(self, iid: str) -> Consumer | None:
        try:
            return self.store.get_allocations(iid)[0]
        except ConsumerNotFound:
            log.warning("%s: %s lost its allocation before its reschedule", self.name, iid)
            return None

    def _give_up(self, iid: str, inst: dict[str, Any], why: str) -> None:
        inst["step"] = InstanceStep.ERROR.value
        inst["error"] = why
        self.stats.errors += 1
        _release_quietly(self.store, iid)

    # -- dead hosts ------------------------------------------------------------------

    def reap(self, hosts: list[str]) -> list[str]:
        """Disable hosts among ``hosts`` whose heartbeat expired and fail their in-flight
        builds (which the normal path then reschedules). Returns the hosts marked down."""
        alive = {r.key for r in self.store.list_records(HEARTBEAT)}
        down = [h for h in hosts if h not in alive]
        for host in down:
            if _disable(self.store, host):
                self.stats.hosts_marked_down += 1
            for rec in self.store.list_records(INSTANCE, f"{host}/"):
                if rec.value["state"] == InstanceState.BUILD:
                    value = {
                        **rec.value,
                        "state": InstanceState.FAILED.value,
                        "error": "host stopped heartbeating",
                    }
                    with contextlib.suppress(GenerationConflict):  # the host answered after all
                        self.store.put_record(INSTANCE, rec.key, value, rec.revision)
        return down

    # -- helpers ---------------------------------------------------------------------

    def _instance_record(self, instance_uuid: str) -> Record:
        try:
            held = self.store.get_allocations(instance_uuid)[1]
        except ConsumerNotFound as exc:
            raise InvalidInput(
                f"Instance {instance_uuid} holds no resources.",
                hint="It may have been deleted already.",
            ) from exc
        found = self.store.get_records(INSTANCE, [instance_key(h, instance_uuid) for h in held])
        if not found:
            raise InvalidInput(
                f"Instance {instance_uuid} has no host record yet.",
                hint="Wait until its build is dispatched.",
            )
        return next(iter(found.values()))

    def _rewrite_instance(self, rec: Record, allocations: dict[str, dict[str, int]]) -> None:
        self.store.put_record(
            INSTANCE, rec.key, {**rec.value, "allocations": allocations}, rec.revision
        )

    def _update_instance(self, request_key: str, iid: str, **changes: Any) -> None:
        for _ in range(20):
            rec = self.store.get_record(BUILD_REQUEST, request_key)
            if rec is None or iid not in rec.value["instances"]:
                return
            instances = {k: dict(v) for k, v in rec.value["instances"].items()}
            instances[iid].update(changes)
            value = {**rec.value, "instances": instances, "state": overall_state(instances).value}
            try:
                self.store.put_record(BUILD_REQUEST, request_key, value, rec.revision)
                return
            except GenerationConflict:
                continue


def _instance_entry(selection: Selection, spec: RequestSpec) -> dict[str, Any]:
    dest = selection.destination
    return {
        "host": dest.host_uuid,
        "host_name": dest.host_name,
        "allocations": dest.allocations,
        "alternates": [dataclasses.asdict(a) for a in selection.alternates],
        "step": InstanceStep.BUILDING.value,
        "dispatched": False,
        "attempts": 1,
        "failed_hosts": list(spec.ignore_hosts),
        "error": "",
    }


def _release_quietly(store: Store, iid: str) -> None:
    with contextlib.suppress(ConsumerNotFound):
        store.release(iid)


def _disable(store: Store, host: str) -> bool:
    for _ in range(10):
        try:
            p = store.get_provider(host)
            if DISABLED_TRAIT in p.traits:
                return False
            store.set_traits(host, p.generation, p.traits | {DISABLED_TRAIT})
            return True
        except GenerationConflict:
            continue
        except BerthingError:
            return False
    return False
