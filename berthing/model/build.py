"""Build requests: the conductor's whole state, kept as records in the store.

A request moves PENDING -> SCHEDULING -> SCHEDULED -> BUILDING -> ACTIVE or ERROR
(and DELETED). Every transition is a compare-and-set on the record's revision, so
two conductors never both advance one request and a restarted conductor picks up
exactly where the killed one stopped. ``events`` keep the story an operator asks
for: each scheduling attempt, reschedule and failure, with its reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import ClassVar

from berthing.model.request import RequestSpec

__all__ = [
    "BuildRequest",
    "BuildState",
    "Destination",
    "Event",
    "InstanceStep",
    "PlannedInstance",
    "ServerRef",
]


class BuildState(StrEnum):
    PENDING = "PENDING"
    SCHEDULING = "SCHEDULING"
    SCHEDULED = "SCHEDULED"
    BUILDING = "BUILDING"
    ACTIVE = "ACTIVE"
    ERROR = "ERROR"
    DELETED = "DELETED"

    @property
    def terminal(self) -> bool:
        return self in (BuildState.ACTIVE, BuildState.ERROR, BuildState.DELETED)


class InstanceStep(StrEnum):
    """Where one instance of a request stands."""

    BUILDING = "BUILDING"
    ACTIVE = "ACTIVE"
    ERROR = "ERROR"
    DELETED = "DELETED"


@dataclass(frozen=True, slots=True)
class Destination:
    """A host for one instance and the allocations it takes there (a sharing pool's
    included)."""

    host_uuid: str
    host_name: str
    allocations: Mapping[str, Mapping[str, int]]


@dataclass(frozen=True, slots=True)
class Event:
    at: float
    what: str
    """scheduled, build-failed, rescheduled, active, error, recovered, deleted..."""
    instance: str = ""
    host: str = ""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class PlannedInstance:
    """One instance of a request: where it goes, what it holds, how far it got."""

    host: str
    host_name: str
    allocations: Mapping[str, Mapping[str, int]]
    alternates: tuple[Destination, ...] = ()
    step: InstanceStep = InstanceStep.BUILDING
    dispatched: bool = False
    attempts: int = 1
    failed_hosts: tuple[str, ...] = ()
    error: str = ""
    claimed: bool = True
    """Whether ``allocations`` are claimed in the store already; if not, the host claims
    them when it builds."""

    def at(self, dest: Destination, claimed: bool) -> PlannedInstance:
        """The same instance moved to ``dest``, not yet handed to its new host."""
        return replace(
            self,
            host=dest.host_uuid,
            host_name=dest.host_name,
            allocations=dest.allocations,
            dispatched=False,
            claimed=claimed,
        )


@dataclass(frozen=True, slots=True)
class BuildRequest:
    """Key: ``<cell>/<request uuid>``."""

    KIND: ClassVar[str] = "build-request"
    SCHEMA: ClassVar[int] = 1

    cell: str
    state: BuildState
    spec: RequestSpec
    instances: Mapping[str, PlannedInstance] = field(default_factory=dict)
    error: str = ""
    created: float = 0.0
    updated: float = 0.0
    owner: str | None = None
    """The conductor scheduling it (state SCHEDULING), until ``deadline``."""
    deadline: float = 0.0
    scheduled_at: float | None = None
    events: tuple[Event, ...] = ()

    def progress(self) -> BuildState:
        """A request is as far along as its slowest instance."""
        steps = {i.step for i in self.instances.values()}
        if InstanceStep.BUILDING in steps:
            dispatched = all(i.dispatched for i in self.instances.values())
            return BuildState.BUILDING if dispatched else BuildState.SCHEDULED
        if steps == {InstanceStep.DELETED}:
            return BuildState.DELETED
        if InstanceStep.ERROR in steps:
            return BuildState.ERROR
        return BuildState.ACTIVE

    def with_instances(
        self, instances: Mapping[str, PlannedInstance], *events: Event
    ) -> BuildRequest:
        """The request with ``instances`` replaced and its state recomputed from them."""
        new = replace(self, instances=dict(instances), events=(*self.events, *events))
        return replace(new, state=new.progress())


@dataclass(frozen=True, slots=True)
class ServerRef:
    """Key: the instance (server) uuid. Where its build request is, so that a server is
    found by its uuid without scanning every request; written before the request."""

    KIND: ClassVar[str] = "server"
    SCHEMA: ClassVar[int] = 1

    request: str
    project_id: str
    user_id: str
    name: str = ""
    created: float = 0.0
