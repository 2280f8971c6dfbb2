"""The conductor: drives build requests through scheduler and host, reschedules failed
builds onto alternates, and turns a silent host into a disabled one.

One ``step()`` advances every open request as far as it can and returns how many
transitions it made; ``run()`` loops it until stopped. Several conductors may run at
once: each transition is a compare-and-set on the request's record, and losing one
simply means another conductor made it.
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

from berthing.conductor.hosts import reap
from berthing.model import (
    BerthingError,
    BuildRequest,
    BuildState,
    Claimed,
    ConsumerNotFound,
    Event,
    FailureCause,
    GenerationConflict,
    Instance,
    InstanceState,
    InstanceStep,
    InvalidInput,
    PlannedInstance,
    Record,
    RequestSpec,
    ServerRef,
    instance_key,
    new_uuid,
)
from berthing.runtime import Every, Liveness, StopSignal, retry_conflicts
from berthing.scheduler import NoValidHost, Scheduler, Selection, leave_group
from berthing.store import Store

__all__ = ["Conductor", "ConductorStats"]

log = logging.getLogger(__name__)

_Change = Callable[[PlannedInstance], PlannedInstance]


@dataclass
class ConductorStats:
    scheduled: int = 0
    active: int = 0
    errors: int = 0
    failed_builds: int = 0
    race_failures: int = 0
    """Failed builds whose host could not claim: a scheduling race (host-claimed designs)."""
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
        self.liveness = Liveness()
        self.open: dict[str, Record[BuildRequest]] = {}
        self._revision = 0

    # -- requests from the API -------------------------------------------------------

    def submit(self, spec: RequestSpec, name: str = "") -> str:
        """Record a build request (PENDING); returns its key. Each instance gets a
        ``ServerRef`` first, so that it can be found by its uuid from the start."""
        spec = dataclasses.replace(spec, instance_uuids=spec.uuids())
        key = f"{self.cell}/{new_uuid()}"
        now = time.time()
        for i, iid in enumerate(spec.instance_uuids):
            label = name if spec.num_instances == 1 or not name else f"{name}-{i + 1}"
            self.store.put_record(iid, ServerRef(key, spec.project_id, spec.user_id, label, now))
        self.store.put_record(key, BuildRequest(self.cell, BuildState.PENDING, spec, created=now))
        return key

    def delete(self, instance_uuid: str, request_key: str | None = None) -> None:
        """Ask the instance's host to destroy it; the host frees its resources. An
        instance that holds nothing (its build failed) is just marked deleted in
        ``request_key``."""
        if request_key is not None and self._holds_nothing(instance_uuid):
            gone = Event(time.time(), "deleted", instance_uuid)
            self._update_instance(
                request_key,
                instance_uuid,
                lambda i: dataclasses.replace(i, step=InstanceStep.DELETED),
                gone,
            )
            return
        rec = self._instance_record(instance_uuid)
        deleting = dataclasses.replace(rec.value, state=InstanceState.DELETING)
        self.store.put_record(rec.key, deleting, rec.revision)
        self._update_instance(
            rec.value.request,
            instance_uuid,
            lambda i: dataclasses.replace(i, step=InstanceStep.DELETED),
            Event(time.time(), "deleted", instance_uuid, rec.key.split("/", 1)[0]),
        )
        if rec.value.server_group:
            leave_group(self.store, rec.value.server_group, instance_uuid)

    def resize(self, instance_uuid: str, resources: Mapping[str, int]) -> str:
        """Replace an instance's allocation atomically: in place if the host has room,
        else on a host the scheduler picks (the old host's record is then dropped).
        Returns the host uuid the instance ends up on."""
        rec = self._instance_record(instance_uuid)
        consumer, held = self.store.get_allocations(instance_uuid)
        host = rec.key.split("/", 1)[0]
        in_place = {**held, host: dict(resources)}
        if isinstance(self.store.claim(consumer, in_place), Claimed):
            self.store.put_record(
                rec.key, dataclasses.replace(rec.value, allocations=in_place), rec.revision
            )
            # The request says what the server holds (the API shows it): keep it true.
            self._update_instance(
                rec.value.request,
                instance_uuid,
                lambda i: dataclasses.replace(i, allocations=in_place),
                Event(time.time(), "resized", instance_uuid, host),
            )
            return host
        request = self.store.get_record(BuildRequest, rec.value.request)
        spec = dataclasses.replace(
            request.value.spec if request else RequestSpec(resources),
            resources=dict(resources),
            num_instances=1,
            instance_uuids=(instance_uuid,),
            ignore_hosts=frozenset(),
            # A move ignores where the boot was forced, as Nova's
            # reset_forced_destinations() does: otherwise it could only stay put.
            force_host=None,
        )
        selection = self.scheduler.move(spec, consumer)
        self._move_instance(rec, selection)
        return selection.destination.host_uuid

    def _move_instance(self, rec: Record[Instance], selection: Selection) -> None:
        dest = selection.destination
        rebuilt = dataclasses.replace(
            rec.value, state=InstanceState.BUILD, allocations=dest.allocations, claimed=True
        )
        self.store.put_record(instance_key(dest.host_uuid, rec.key.split("/", 1)[1]), rebuilt)
        self.store.delete_record(Instance, rec.key)
        # The request follows the rebuild on the new host again (failures reschedule).
        self._update_instance(
            rec.value.request,
            selection.consumer.uuid,
            lambda i: dataclasses.replace(
                i.at(dest, claimed=True), step=InstanceStep.BUILDING, dispatched=True
            ),
            Event(time.time(), "resized", selection.consumer.uuid, dest.host_uuid),
        )

    # -- the loop --------------------------------------------------------------------

    def run(self, stop: StopSignal, *, idle_sleep: float = 0.01, reap_every: float = 10.0) -> None:
        """Advance requests until ``stop`` is set; every ``reap_every`` seconds disable
        hosts that stopped heartbeating."""
        reap = Every(reap_every)
        while not stop.is_set():
            if reap.due():
                self._reap_quietly()
            if not self.step():
                stop.wait(idle_sleep)
            self.liveness.beat()

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

    def reap(self, hosts: list[str] | None = None) -> list[str]:
        """Disable hosts (by default every host that reports stats) whose heartbeat
        expired and fail their in-flight builds, which the normal path then
        reschedules. Returns the hosts marked down."""
        down = reap(self.store, hosts)
        self.stats.hosts_marked_down += len(down.disabled)
        return down.hosts

    def _reap_quietly(self) -> None:
        try:
            for host in self.reap():
                log.warning("host %s stopped heartbeating: disabled", host)
        except BerthingError:
            log.exception("%s: reaping failed; trying again later", self.name)

    def _reread(self, key: str) -> None:
        rec = self.store.get_record(BuildRequest, key)
        if rec is None or rec.value.state.terminal:
            self.open.pop(key, None)
        else:
            self.open[key] = rec

    def _refresh(self) -> None:
        for rec in self.store.list_records(BuildRequest, f"{self.cell}/", self._revision):
            self._revision = max(self._revision, rec.revision)
            if rec.value.state.terminal:
                self.open.pop(rec.key, None)
            else:
                self.open[rec.key] = rec

    def _watched_instances(self) -> dict[str, Record[Instance]]:
        keys = [
            instance_key(i.host, iid)
            for rec in self.open.values()
            if rec.value.state is BuildState.BUILDING
            for iid, i in rec.value.instances.items()
            if i.step is InstanceStep.BUILDING
        ]
        return self.store.get_records(Instance, keys) if keys else {}

    def _advance(
        self, rec: Record[BuildRequest], instance_records: dict[str, Record[Instance]]
    ) -> int:
        state = rec.value.state
        if state is BuildState.PENDING:
            return self._schedule(rec)
        if state is BuildState.SCHEDULING and rec.value.deadline < time.time():
            return self._recover(rec)
        if state is BuildState.SCHEDULED:
            return self._dispatch(rec)
        if state is BuildState.BUILDING:
            return self._follow(rec, instance_records)
        return 0

    # -- transitions -----------------------------------------------------------------

    def _cas(self, rec: Record[BuildRequest], value: BuildRequest) -> Record[BuildRequest]:
        new = self.store.put_record(
            rec.key, dataclasses.replace(value, updated=time.time()), rec.revision
        )
        if new.value.state.terminal:
            self.open.pop(rec.key, None)
        else:
            self.open[rec.key] = new
        return new

    def _schedule(self, rec: Record[BuildRequest]) -> int:
        """Own the request for a lease, then let the scheduler claim hosts for it."""
        deadline = time.time() + self.scheduling_lease
        owned = dataclasses.replace(
            rec.value, state=BuildState.SCHEDULING, owner=self.name, deadline=deadline
        )
        rec = self._cas(rec, owned)
        spec = rec.value.spec
        try:
            selections = self.scheduler.select_destinations(spec)
        except (NoValidHost, InvalidInput) as exc:
            self.stats.errors += spec.num_instances
            failed = Event(time.time(), "error", detail=exc.message)
            self._cas(
                rec, _with_events(rec.value, failed, state=BuildState.ERROR, error=exc.message)
            )
            return 1
        now = time.time()
        instances = {s.consumer.uuid: _planned(s, spec) for s in selections}
        events = [
            Event(now, "scheduled", s.consumer.uuid, s.destination.host_uuid) for s in selections
        ]
        self.stats.scheduled += len(instances)
        scheduled = dataclasses.replace(rec.value, scheduled_at=now).with_instances(
            instances, *events
        )
        self._cas(rec, scheduled)
        return 1

    def _recover(self, rec: Record[BuildRequest]) -> int:
        """The owner died mid-scheduling: free whatever it claimed and start over."""
        spec = rec.value.spec
        for iid in spec.instance_uuids:
            with contextlib.suppress(ConsumerNotFound):
                self.store.release(iid)
            if spec.server_group:
                leave_group(self.store, spec.server_group, iid)
        log.warning("%s: recovering %s from %s", self.name, rec.key, rec.value.owner)
        recovered = Event(time.time(), "recovered", detail=f"owner {rec.value.owner} went silent")
        self._cas(rec, _with_events(rec.value, recovered, state=BuildState.PENDING, owner=None))
        return 1

    def _dispatch(self, rec: Record[BuildRequest]) -> int:
        """Write each instance's record under its host's prefix: the agent's work item."""
        request = rec.value
        instances = dict(request.instances)
        for iid, planned in request.instances.items():
            if planned.dispatched:
                continue
            work = Instance(
                InstanceState.BUILD,
                rec.key,
                self.cell,
                planned.allocations,
                request.spec.project_id,
                request.spec.user_id,
                claimed=planned.claimed,
                server_group=request.spec.server_group,
            )
            # A conflict: written before a crash; the agent has it already.
            with contextlib.suppress(GenerationConflict):
                self.store.put_record(instance_key(planned.host, iid), work)
            instances[iid] = dataclasses.replace(planned, dispatched=True)
        self._cas(rec, request.with_instances(instances))
        return 1

    def _follow(self, rec: Record[BuildRequest], records: dict[str, Record[Instance]]) -> int:
        """Read the agents' outcomes; reschedule failed builds."""
        request = rec.value
        instances = dict(request.instances)
        events: list[Event] = []
        for iid, planned in request.instances.items():
            found = records.get(instance_key(planned.host, iid))
            if planned.step is not InstanceStep.BUILDING or found is None:
                continue
            if found.value.state is InstanceState.ACTIVE:
                instances[iid] = dataclasses.replace(planned, step=InstanceStep.ACTIVE)
                events.append(Event(time.time(), "active", iid, planned.host))
                self.stats.active += 1
            elif found.value.state is InstanceState.FAILED:
                instances[iid] = self._after_failure(request, iid, planned, found, events)
        if instances == request.instances:
            return 0
        self._cas(rec, request.with_instances(instances, *events))
        return 1

    def _after_failure(
        self,
        request: BuildRequest,
        iid: str,
        planned: PlannedInstance,
        found: Record[Instance],
        events: list[Event],
    ) -> PlannedInstance:
        if not self.store.delete_record(Instance, found.key, found.revision):
            # Another conductor took this failure first: it counts and reschedules it,
            # and its write of the request tells us; counting here would count it twice.
            return planned
        self.stats.failed_builds += 1
        self.stats.race_failures += found.value.cause is FailureCause.CLAIM
        events.append(Event(time.time(), "build-failed", iid, planned.host, found.value.error))
        failed = dataclasses.replace(
            planned,
            failed_hosts=(*planned.failed_hosts, planned.host),
            attempts=planned.attempts + 1,
            dispatched=False,
        )
        if failed.attempts > self.max_build_attempts:
            why = f"build failed {failed.attempts - 1} times; last: {found.value.error}"
            return self._give_up(iid, failed, why, events)
        self.stats.reschedules += 1
        return self._reschedule(request, iid, failed, events)

    def _reschedule(
        self, request: BuildRequest, iid: str, failed: PlannedInstance, events: list[Event]
    ) -> PlannedInstance:
        spec = dataclasses.replace(
            request.spec,
            num_instances=1,
            instance_uuids=(iid,),
            ignore_hosts=frozenset(failed.failed_hosts),
        )
        alternates = [a for a in failed.alternates if a.host_uuid not in failed.failed_hosts]
        try:
            sel = self.scheduler.reschedule(spec, iid, alternates)
        except (NoValidHost, ConsumerNotFound) as exc:
            return self._give_up(iid, failed, f"reschedule found no host: {exc}", events)
        events.append(Event(time.time(), "rescheduled", iid, sel.destination.host_uuid))
        moved = failed.at(sel.destination, sel.claimed)
        return dataclasses.replace(moved, alternates=sel.alternates)

    def _give_up(
        self, iid: str, planned: PlannedInstance, why: str, events: list[Event]
    ) -> PlannedInstance:
        self.stats.errors += 1
        with contextlib.suppress(ConsumerNotFound):
            self.store.release(iid)
        events.append(Event(time.time(), "error", iid, planned.host, why))
        return dataclasses.replace(planned, step=InstanceStep.ERROR, error=why)

    # -- helpers ---------------------------------------------------------------------

    def _holds_nothing(self, instance_uuid: str) -> bool:
        try:
            self.store.get_allocations(instance_uuid)
        except ConsumerNotFound:
            return True
        return False

    def _instance_record(self, instance_uuid: str) -> Record[Instance]:
        try:
            held = self.store.get_allocations(instance_uuid)[1]
        except ConsumerNotFound as exc:
            raise InvalidInput(
                f"Instance {instance_uuid} holds no resources.",
                hint="It may have been deleted already.",
            ) from exc
        found = self.store.get_records(Instance, [instance_key(h, instance_uuid) for h in held])
        if not found:
            raise InvalidInput(
                f"Instance {instance_uuid} has no host record yet.",
                hint="Wait until its build is dispatched.",
            )
        return next(iter(found.values()))

    def _update_instance(
        self,
        request_key: str,
        iid: str,
        change: _Change,
        event: Event,
    ) -> None:
        def attempt() -> None:
            rec = self.store.get_record(BuildRequest, request_key)
            if rec is None or iid not in rec.value.instances:
                return
            instances = {**rec.value.instances, iid: change(rec.value.instances[iid])}
            self.store.put_record(
                request_key, rec.value.with_instances(instances, event), rec.revision
            )

        retry_conflicts(f"updating {iid} in {request_key}", attempt, budget=20)


def _planned(selection: Selection, spec: RequestSpec) -> PlannedInstance:
    dest = selection.destination
    return PlannedInstance(
        host=dest.host_uuid,
        host_name=dest.host_name,
        allocations=dest.allocations,
        alternates=selection.alternates,
        failed_hosts=tuple(spec.ignore_hosts),
        claimed=selection.claimed,
    )


def _with_events(request: BuildRequest, *events: Event, **changes: Any) -> BuildRequest:
    return dataclasses.replace(request, events=(*request.events, *events), **changes)
