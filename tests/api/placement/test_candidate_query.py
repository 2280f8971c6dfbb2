"""GET /allocation_candidates query parsing, seeds and the response shape, without a
server: the corners the spec files do not reach (repeats, suffix grammars by version,
trait normalisation, which error code when)."""

from __future__ import annotations

import pytest
from starlette.datastructures import QueryParams

from berthing.api.errors import UNDEFINED, ApiError
from berthing.api.placement.candidate_query import (
    DUPLICATE_KEY,
    MISSING_VALUE,
    parse_candidate_query,
)
from berthing.api.placement.candidate_views import candidates_view
from berthing.api.placement.candidates import SeedStream
from berthing.api.placement.microversion import Version
from berthing.api.placement.query import BAD_VALUE
from berthing.model import (
    Candidate,
    CandidateRequest,
    CandidateResult,
    Inventory,
    Isolation,
    Provider,
    ProviderState,
    new_uuid,
)

V = Version.of
AGG = new_uuid()


def parse(query: str, version: str = "1.39") -> CandidateRequest:
    return parse_candidate_query(QueryParams(query), V(version))


def refused(query: str, version: str = "1.39") -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse(query, version)
    assert caught.value.status == 400
    return caught.value


def test_repeats_keep_what_placement_keeps() -> None:
    req = parse(
        "resources=VCPU:1&resources=VCPU:2&limit=3&limit=9&group_policy=isolate"
        "&group_policy=none&resources1=VGPU:1&resources2=VGPU:1"
    )
    [unsuffixed] = [g for g in req.groups if g.unsuffixed]
    assert unsuffixed.resources == {"VCPU": 2}  # the last resources
    assert req.limit == 3  # the first limit
    assert req.isolation is Isolation.ISOLATE  # the first group_policy


def test_repeated_required_before_139_keeps_the_last() -> None:
    [g] = parse("resources=VCPU:1&required=HW_CPU_X86_AVX&required=HW_CPU_X86_AVX2", "1.38").groups
    assert g.required == {"HW_CPU_X86_AVX2"}
    [g] = parse("resources=VCPU:1&required=HW_CPU_X86_AVX&required=HW_CPU_X86_AVX2").groups
    assert g.required == {"HW_CPU_X86_AVX", "HW_CPU_X86_AVX2"}


def test_a_forbidden_trait_leaves_an_any_of_set() -> None:
    [g] = parse(
        "resources=VCPU:1&required=in:HW_CPU_X86_AVX,HW_CPU_X86_AVX2&required=!HW_CPU_X86_AVX"
    ).groups
    assert g.any_of == (frozenset({"HW_CPU_X86_AVX2"}),)
    assert g.forbidden == {"HW_CPU_X86_AVX"}


@pytest.mark.parametrize(
    ("key", "first_version"),
    [
        ("limit=1", "1.16"),
        ("required=HW_CPU_X86_AVX", "1.17"),
        (f"member_of={AGG}", "1.21"),
        ("resources1=VGPU:1", "1.25"),
        (f"in_tree={AGG}", "1.31"),
        (f"in_tree1={AGG}&resources1=VGPU:1", "1.31"),
        ("resources_G=VGPU:1", "1.33"),
        ("resources01=VGPU:1", "1.33"),
        ("root_required=HW_CPU_X86_AVX", "1.35"),
        ("same_subtree=1&resources1=VGPU:1", "1.36"),
    ],
)
def test_each_key_from_its_version(key: str, first_version: str) -> None:
    query = f"resources=VCPU:1&{key}"
    parse(query, first_version)
    before = V(first_version)
    error = refused(query, f"{before.major}.{before.minor - 1}")
    assert error.code == UNDEFINED


def test_suffix_grammar() -> None:
    parse("resources" + "x" * 64 + "=VCPU:1")
    refused("resources" + "x" * 65 + "=VCPU:1")
    refused("resources_A.B=VCPU:1")
    refused("resources0=VCPU:1", "1.32")  # numbers start at 1 before 1.33
    [g] = parse("resources0=VCPU:1").groups
    assert g.suffix == "0"


def test_group_policy_counts_resourceless_groups() -> None:
    query = "resources1=VGPU:1&required2=HW_CPU_X86_AVX&same_subtree=1,2"
    refused(query)
    req = parse(query + "&group_policy=none")
    assert {g.suffix: dict(g.resources) for g in req.groups} == {"1": {"VGPU": 1}, "2": {}}
    assert req.same_subtree == (frozenset({"1", "2"}),)


def test_root_required_errors_and_forbidden_roots() -> None:
    req = parse("resources=VCPU:1&root_required=HW_CPU_X86_AVX,!COMPUTE_STATUS_DISABLED")
    assert req.root_required == {"HW_CPU_X86_AVX"}
    assert req.root_forbidden == {"COMPUTE_STATUS_DISABLED"}
    repeated = "resources=VCPU:1&root_required=HW_CPU_X86_AVX&root_required=HW_CPU_X86_AVX2"
    assert refused(repeated).code == DUPLICATE_KEY
    both = "resources=VCPU:1&root_required=HW_CPU_X86_AVX,!HW_CPU_X86_AVX"
    assert refused(both).code == BAD_VALUE
    assert refused("resources=VCPU:1&root_required=in:HW_CPU_X86_AVX").code == UNDEFINED


def test_missing_value_only_from_136() -> None:
    assert refused("", "1.36").code == MISSING_VALUE
    assert refused("", "1.35").code == UNDEFINED
    assert refused("required1=HW_CPU_X86_AVX&resources=VCPU:1", "1.35").code == UNDEFINED


@pytest.mark.parametrize("value", ["0", "-1", "01", "1.5", "", "x"])
def test_limit_is_a_positive_integer(value: str) -> None:
    refused(f"resources=VCPU:1&limit={value}")


def test_spread_over_trees_from_129() -> None:
    assert not parse("resources=VCPU:1", "1.28").spread_trees
    assert parse("resources=VCPU:1", "1.29").spread_trees


def test_seed_streams() -> None:
    assert SeedStream(randomize=True, seed=None).next() is None  # the engine draws one
    fixed = SeedStream(randomize=False, seed=None)
    assert fixed.next() == fixed.next() == 0
    a, b = SeedStream(randomize=True, seed=42), SeedStream(randomize=True, seed=42)
    first = [a.next() for _ in range(5)]
    assert first == [b.next() for _ in range(5)]  # reproducible
    assert len(set(first)) == 5  # and spread


def _result() -> tuple[CandidateResult, str, str, str]:
    root, child, other = new_uuid(), new_uuid(), new_uuid()
    states = {
        root: ProviderState(
            Provider(root, "cn", 1, traits=frozenset({"HW_CPU_X86_AVX"})),
            {"VCPU": Inventory(8, allocation_ratio=2.0), "DISK_GB": Inventory(10)},
            {"VCPU": 3},
        ),
        child: ProviderState(
            Provider(child, "gpu", 1, parent_uuid=root, root_uuid=root), {"VGPU": Inventory(2)}
        ),
        other: ProviderState(Provider(other, "nic", 1, parent_uuid=root, root_uuid=root)),
    }
    c = Candidate(root, {root: {"VCPU": 1}, child: {"VGPU": 1}}, {"": (child, root)})
    return CandidateResult((c,), states, {root: (root, child, other)}), root, child, other


def test_the_body_by_version() -> None:
    result, root, child, other = _result()
    old = candidates_view(result, {"VCPU", "VGPU"}, V("1.10"))
    assert isinstance(old.allocation_requests[0].allocations, list)
    assert set(old.provider_summaries) == {root, child}  # only what candidates use
    assert set(old.provider_summaries[root].resources) == {"VCPU"}  # requested only
    assert old.provider_summaries[root].resources["VCPU"].capacity == 16
    new = candidates_view(result, {"VCPU", "VGPU"}, V("1.34"))
    assert set(new.provider_summaries) == {root, child, other}  # whole trees
    assert set(new.provider_summaries[root].resources) == {"VCPU", "DISK_GB"}
    assert new.provider_summaries[other].resources == {}
    assert new.provider_summaries[child].parent_provider_uuid == root
    req = new.allocation_requests[0]
    assert not isinstance(req.allocations, list)
    assert req.mappings == {"": [child, root]}
