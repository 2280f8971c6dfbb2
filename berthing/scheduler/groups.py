"""Server groups and availability zones, kept as records in the store.

A group's membership is itself a compare-and-set: after the resources are claimed,
the scheduler adds the instance to the group record under a revision check and
re-checks the policy if another scheduler added a member first. Two schedulers can
therefore never both place anti-affine members on one host (Nova's late "group
policy check" on the compute host, done at the source instead).
"""

from __future__ import annotations

from berthing.model import GenerationConflict, InvalidInput, new_uuid, validate_uuid
from berthing.scheduler.context import GroupView
from berthing.scheduler.request import GroupPolicy
from berthing.store import Store

__all__ = [
    "GROUP",
    "ZONE",
    "create_group",
    "define_zone",
    "join_group",
    "leave_group",
    "load_group",
    "zone_aggregate",
]

GROUP = "server-group"
ZONE = "availability-zone"
_JOIN_ATTEMPTS = 20


def create_group(
    store: Store, policy: GroupPolicy | str, max_server_per_host: int = 1, uuid: str | None = None
) -> str:
    try:
        policy = GroupPolicy(policy)
    except ValueError as exc:
        known = ", ".join(p.value for p in GroupPolicy)
        raise InvalidInput(
            f"Unknown server group policy {policy!r}.", hint=f"Use {known}."
        ) from exc
    if max_server_per_host < 1:
        raise InvalidInput(f"max_server_per_host must be at least 1, got {max_server_per_host}.")
    uuid = validate_uuid(uuid) if uuid else new_uuid()
    value: dict[str, object] = {
        "policy": policy.value,
        "max_server_per_host": max_server_per_host,
        "members": {},
    }
    store.put_record(GROUP, uuid, value)
    return uuid


def load_group(store: Store, uuid: str) -> GroupView:
    rec = store.get_record(GROUP, uuid)
    if rec is None:
        raise InvalidInput(
            f"Server group {uuid} does not exist.", hint="Create the group before booting into it."
        )
    v = rec.value
    return GroupView(
        uuid,
        GroupPolicy(v["policy"]),
        int(v["max_server_per_host"]),
        rec.revision,
        dict(v["members"]),
    )


def allows(group: GroupView, host_uuid: str) -> bool:
    """Whether adding one member on ``host_uuid`` keeps a hard policy."""
    hosts = list(group.members.values())
    if group.policy is GroupPolicy.AFFINITY:
        return not hosts or host_uuid in hosts
    if group.policy is GroupPolicy.ANTI_AFFINITY:
        return hosts.count(host_uuid) < group.max_server_per_host
    return True


def join_group(store: Store, group_uuid: str, instance_uuid: str, host_uuid: str) -> bool:
    """Add a member under compare-and-set; False if the policy no longer allows it."""
    for _ in range(_JOIN_ATTEMPTS):
        group = load_group(store, group_uuid)
        if not allows(group, host_uuid):
            return False
        members = {**group.members, instance_uuid: host_uuid}
        value = {
            "policy": group.policy.value,
            "max_server_per_host": group.max_server_per_host,
            "members": members,
        }
        try:
            store.put_record(GROUP, group_uuid, value, expected_revision=group.revision)
            return True
        except GenerationConflict:
            continue  # another member joined first: re-check the policy with it
    return False


def leave_group(store: Store, group_uuid: str, instance_uuid: str) -> None:
    for _ in range(_JOIN_ATTEMPTS):
        rec = store.get_record(GROUP, group_uuid)
        if rec is None or instance_uuid not in rec.value["members"]:
            return
        members = {k: v for k, v in rec.value["members"].items() if k != instance_uuid}
        try:
            store.put_record(GROUP, group_uuid, {**rec.value, "members": members}, rec.revision)
            return
        except GenerationConflict:
            continue


def define_zone(store: Store, name: str, aggregate: str) -> None:
    """Map an availability zone name to the aggregate whose members are in it."""
    store.put_record(
        ZONE,
        name,
        {"aggregate": validate_uuid(aggregate, "aggregate uuid")},
        expected_revision=_revision(store, name),
    )


def _revision(store: Store, name: str) -> int | None:
    rec = store.get_record(ZONE, name)
    return None if rec is None else rec.revision


def zone_aggregate(store: Store, name: str) -> str:
    rec = store.get_record(ZONE, name)
    if rec is None:
        known = ", ".join(r.key for r in store.list_records(ZONE)) or "none defined"
        raise InvalidInput(
            f"Availability zone {name!r} does not exist.", hint=f"Known zones: {known}."
        )
    return str(rec.value["aggregate"])
