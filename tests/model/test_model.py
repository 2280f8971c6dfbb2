from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from berthing.model import (
    InvalidInput,
    Inventory,
    Provider,
    ProviderState,
    validate_allocations,
    validate_resource_class,
    validate_trait,
)


@pytest.mark.parametrize("name", ["VCPU", "PCPU", "NET_BW_EGR_KILOBIT_PER_SEC", "CUSTOM_GPU_A100"])
def test_valid_resource_classes(name: str) -> None:
    assert validate_resource_class(name) == name


@pytest.mark.parametrize("name", ["vcpu", "CUSTOM_", "CUSTOM_gpu", "GPU", "", "CUSTOM_A-B", 7])
def test_invalid_resource_classes_name_the_problem(name: object) -> None:
    with pytest.raises(InvalidInput, match="resource class"):
        validate_resource_class(name)


def test_invalid_name_suggests_a_custom_one() -> None:
    with pytest.raises(InvalidInput, match="CUSTOM_GPU_A100"):
        validate_resource_class("gpu-a100")
    with pytest.raises(InvalidInput, match="CUSTOM_GPU_A100"):
        validate_resource_class("gpu a100")


@pytest.mark.parametrize(
    ("typed", "meant"), [("vcpu", "VCPU"), ("disk-gb", "DISK_GB"), ("MEMORY_GB", "MEMORY_MB")]
)
def test_a_misspelt_standard_class_suggests_the_standard_one(typed: str, meant: str) -> None:
    with pytest.raises(InvalidInput, match=f"Did you mean the standard resource class {meant}\\?"):
        validate_resource_class(typed)


def test_a_misspelt_standard_trait_suggests_the_standard_one() -> None:
    with pytest.raises(InvalidInput, match="standard trait HW_CPU_X86_AVX2"):
        validate_trait("hw_cpu_x86_avx2")


def test_traits() -> None:
    assert validate_trait("HW_CPU_X86_AVX2") == "HW_CPU_X86_AVX2"
    with pytest.raises(InvalidInput, match="trait"):
        validate_trait("avx2")


def test_capacity() -> None:
    assert Inventory(10, reserved=2, allocation_ratio=1.5).capacity == 12
    assert Inventory(3, allocation_ratio=0.5).capacity == 1


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        ({"total": 4, "reserved": 5}, "reserved"),
        ({"total": 4, "min_unit": 3, "max_unit": 2}, "min_unit"),
        ({"total": 0}, "total"),
        ({"total": 4, "step_size": 0}, "step_size"),
        ({"total": 4, "allocation_ratio": 0}, "allocation_ratio"),
        ({"total": 4, "allocation_ratio": float("nan")}, "allocation_ratio"),
        ({"total": "4"}, "integer"),
        ({"total": True}, "integer"),
    ],
)
def test_bad_inventories(kwargs: dict[str, object], msg: str) -> None:
    with pytest.raises(InvalidInput, match=msg):
        Inventory(**kwargs)  # type: ignore[arg-type]


@given(
    total=st.integers(1, 10_000),
    used=st.integers(0, 10_000),
    amount=st.integers(1, 10_000),
    step=st.integers(1, 64),
)
def test_fits_never_allows_over_capacity(total: int, used: int, amount: int, step: int) -> None:
    inv = Inventory(total, step_size=step)
    if inv.fits(used, amount):
        assert used + amount <= inv.capacity and amount % step == 0


def test_provider_state_free_and_fits() -> None:
    p = Provider("u", "h", 0)
    s = ProviderState(p, {"VCPU": Inventory(4)}, {"VCPU": 3})
    assert s.free("VCPU") == 1 and s.free("MEMORY_MB") == 0
    assert s.fits({"VCPU": 1}) and not s.fits({"VCPU": 2}) and not s.fits({"MEMORY_MB": 1})


def test_validate_allocations() -> None:
    uuid = "6e0b2a2c-2c38-4b3a-9b43-1c1f3c0bb0a1"
    assert validate_allocations({uuid.upper(): {"VCPU": 1}}) == {uuid: {"VCPU": 1}}
    with pytest.raises(InvalidInput, match="names no resources"):
        validate_allocations({uuid: {}})
    with pytest.raises(InvalidInput, match="not a valid uuid"):
        validate_allocations({"h1": {"VCPU": 1}})
