"""Build requests as records: the conductor's whole state lives in the store.

A request moves PENDING -> SCHEDULING -> SCHEDULED -> BUILDING -> ACTIVE or ERROR
(and DELETED). Every transition is a compare-and-set on the record's revision, so
two conductors never both advance one request and a restarted conductor picks up
exactly where the killed one stopped.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

__all__ = ["BUILD_REQUEST", "BuildState", "InstanceStep", "overall_state"]

BUILD_REQUEST = "build-request"


class BuildState(StrEnum):
    PENDING = "PENDING"
    SCHEDULING = "SCHEDULING"
    SCHEDULED = "SCHEDULED"
    BUILDING = "BUILDING"
    ACTIVE = "ACTIVE"
    ERROR = "ERROR"
    DELETED = "DELETED"


TERMINAL = frozenset({BuildState.ACTIVE, BuildState.ERROR, BuildState.DELETED})


class InstanceStep(StrEnum):
    """Where one instance of a request stands."""

    BUILDING = "BUILDING"
    ACTIVE = "ACTIVE"
    ERROR = "ERROR"
    DELETED = "DELETED"


def overall_state(instances: dict[str, dict[str, Any]]) -> BuildState:
    """A request is as far along as its slowest instance."""
    steps = {i["step"] for i in instances.values()}
    if InstanceStep.BUILDING in steps:
        dispatched = all(i["dispatched"] for i in instances.values())
        return BuildState.BUILDING if dispatched else BuildState.SCHEDULED
    if steps == {InstanceStep.DELETED}:
        return BuildState.DELETED
    if InstanceStep.ERROR in steps:
        return BuildState.ERROR
    return BuildState.ACTIVE
