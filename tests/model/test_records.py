"""Typed records: one codec, a schema version, and records written before it still read."""

from __future__ import annotations

import pytest

from berthing.model import (
    BuildRequest,
    BuildState,
    Destination,
    GroupPolicy,
    Instance,
    InstanceState,
    InstanceStep,
    InvalidInput,
    PlannedInstance,
    RequestSpec,
    ServerGroup,
    StoreCorrupt,
    decode_value,
    encode_value,
)

SPEC = RequestSpec({"VCPU": 2}, member_of=(frozenset({"b", "a"}),), instance_uuids=("i1",))


def test_round_trip_and_schema_mark() -> None:
    dest = Destination("h2", "host-2", {"h2": {"VCPU": 2}})
    planned = PlannedInstance("h1", "host-1", {"h1": {"VCPU": 2}}, alternates=(dest,))
    value = BuildRequest("cell1", BuildState.SCHEDULED, SPEC, {"i1": planned}, created=1.0)
    doc = encode_value(value)
    assert doc["schema"] == BuildRequest.SCHEMA
    assert [list(g) for g in doc["spec"]["member_of"]] == [["a", "b"]]  # sets sorted
    assert decode_value(BuildRequest, doc) == value


def test_a_build_request_written_before_records_were_typed_still_reads() -> None:
    old = {  # as the untyped conductor wrote it: no schema, spec_to_dict's shapes
        "cell": "cell1",
        "state": "BUILDING",
        "spec": {
            "resources": {"VCPU": 2},
            "project_id": "p",
            "user_id": "u",
            "num_instances": 1,
            "instance_uuids": ["i1"],
            "shared_resources": {},
            "required_traits": [],
            "forbidden_traits": [],
            "member_of": [],
            "availability_zone": None,
            "server_group": None,
            "ignore_hosts": [],
            "force_host": None,
            "same_host": [],
            "different_host": [],
        },
        "instances": {
            "i1": {
                "host": "h1",
                "host_name": "host-1",
                "allocations": {"h1": {"VCPU": 2}},
                "alternates": [{"host_uuid": "h2", "host_name": "host-2", "allocations": {}}],
                "step": "BUILDING",
                "dispatched": True,
                "attempts": 1,
                "failed_hosts": [],
                "error": "",
            }
        },
        "error": "",
        "created": 5.0,
        "owner": "conductor-1",
        "deadline": 6.0,
        "updated": 7.0,
        "scheduled_at": 5.5,
    }
    request = decode_value(BuildRequest, old)
    assert request.state is BuildState.BUILDING and request.spec.project_id == "p"
    assert request.instances["i1"].step is InstanceStep.BUILDING
    assert request.instances["i1"].alternates[0].host_name == "host-2"
    old_instance = {
        "state": "BUILD",
        "request": "cell1/r",
        "cell": "cell1",
        "allocations": {},
        "claimed": False,
        "project_id": "p",
        "user_id": "u",
        "server_group": None,
    }
    assert decode_value(Instance, old_instance).state is InstanceState.BUILD


def test_newer_or_foreign_documents_are_refused_with_a_next_step() -> None:
    with pytest.raises(StoreCorrupt, match="Upgrade berthing"):
        decode_value(ServerGroup, {"schema": 99, "policy": "affinity"})
    with pytest.raises(StoreCorrupt, match="shape of a ServerGroup"):
        decode_value(ServerGroup, {"policy": "sideways"}, "g1")


def test_values_check_themselves() -> None:
    with pytest.raises(InvalidInput, match="max_server_per_host"):
        ServerGroup(GroupPolicy.ANTI_AFFINITY, 0)
    with pytest.raises(InvalidInput, match="Unknown server group policy"):
        GroupPolicy.parse("sideways")
    group = ServerGroup(GroupPolicy.ANTI_AFFINITY, 1).with_member("i1", "h1")
    assert not group.allows("h1") and group.allows("h2")
    assert group.without_member("i1").allows("h1")
