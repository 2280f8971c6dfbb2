"""Server groups and availability zones, kept as records in the store.

A group's membership is itself a compare-and-set: after the resources are claimed,
the scheduler adds the instance to the group record under a revision check and
re-checks the policy if another scheduler added a member first. Two schedulers can
therefore never both place anti-affine members on one host (Nova's late "group
policy check" on the compute host, done at the source instead).
"""

from __future__ import annotations

from berthing.model import (
    GroupPolicy,
    InvalidInput,
    Record,
    ServerGroup,
    Zone,
    new_uuid,
    validate_uuid,
)
from berthing.runtime import retry_conflicts
from berthing.store import RecordStore

__all__ = [
    "create_group",
    "define_zone",
    "join_group",
    "leave_group",
    "load_group",
    "zone_aggregate",
]

_BUDGET = 20  # a busy group gains a member per placement; racers retry on fresh data


def create_group(
    store: RecordStore,
    policy: GroupPolicy | str,
    max_server_per_host: int = 1,
    uuid: str | None = None,
    *,
    name: str = "",
    project_id: str = "",
) -> str:
    group = ServerGroup(GroupPolicy.parse(policy), max_server_per_host, {}, name, project_id)
    uuid = validate_uuid(uuid) if uuid else new_uuid()
    store.put_record(uuid, group)
    return uuid


def load_group(store: RecordStore, uuid: str) -> Record[ServerGroup]:
    rec = store.get_record(ServerGroup, uuid)
    if rec is None:
        raise InvalidInput(
            f"Server group {uuid} does not exist.", hint="Create the group before booting into it."
        )
    return rec


def join_group(store: RecordStore, group_uuid: str, instance_uuid: str, host_uuid: str) -> bool:
    """Add a member under compare-and-set; False if the policy no longer allows it."""

    def attempt() -> bool:
        rec = load_group(store, group_uuid)
        if not rec.value.allows(host_uuid):
            return False
        store.put_record(group_uuid, rec.value.with_member(instance_uuid, host_uuid), rec.revision)
        return True

    return retry_conflicts(f"joining server group {group_uuid}", attempt, budget=_BUDGET)


def leave_group(store: RecordStore, group_uuid: str, instance_uuid: str) -> None:
    def attempt() -> None:
        rec = store.get_record(ServerGroup, group_uuid)
        if rec is not None and instance_uuid in rec.value.members:
            store.put_record(group_uuid, rec.value.without_member(instance_uuid), rec.revision)

    retry_conflicts(f"leaving server group {group_uuid}", attempt, budget=_BUDGET)


def define_zone(store: RecordStore, name: str, aggregate: str) -> None:
    """Map an availability zone name to the aggregate whose members are in it."""
    zone = Zone(validate_uuid(aggregate, "aggregate uuid"))

    def attempt() -> None:
        current = store.get_record(Zone, name)
        store.put_record(name, zone, None if current is None else current.revision)

    retry_conflicts(f"defining zone {name}", attempt)


def zone_aggregate(store: RecordStore, name: str) -> str:
    rec = store.get_record(Zone, name)
    if rec is None:
        known = ", ".join(r.key for r in store.list_records(Zone)) or "none defined"
        raise InvalidInput(
            f"Availability zone {name!r} does not exist.", hint=f"Known zones: {known}."
        )
    return rec.value.aggregate
