"""Resource class and trait names: the standard sets plus validated ``CUSTOM_*`` names.

The standard names follow os-resource-classes and os-traits, so that a Placement
client's names mean the same thing here. Custom names follow Placement's rule:
``CUSTOM_`` then upper-case letters, digits and underscores, at most 255 characters.
"""

from __future__ import annotations

import re

from berthing.model.errors import InvalidInput

__all__ = [
    "CUSTOM_PREFIX",
    "DISABLED_TRAIT",
    "SHARING_TRAIT",
    "STANDARD_RESOURCE_CLASSES",
    "STANDARD_TRAITS",
    "is_custom",
    "validate_resource_class",
    "validate_trait",
    "validate_trait_sets",
]

CUSTOM_PREFIX = "CUSTOM_"
_CUSTOM_RE = re.compile(r"^CUSTOM_[A-Z0-9_]+$")
_MAX_NAME = 255

DISABLED_TRAIT = "COMPUTE_STATUS_DISABLED"
"""A host marked down or disabled carries it; candidate queries forbid it (as in Nova)."""
SHARING_TRAIT = "MISC_SHARES_VIA_AGGREGATE"
"""A sharing provider (e.g. a storage pool) lends its inventory to its aggregates' hosts."""

STANDARD_RESOURCE_CLASSES: tuple[str, ...] = (
    "VCPU",
    "MEMORY_MB",
    "DISK_GB",
    "PCI_DEVICE",
    "SRIOV_NET_VF",
    "NUMA_SOCKET",
    "NUMA_CORE",
    "NUMA_THREAD",
    "NUMA_MEMORY_MB",
    "IPV4_ADDRESS",
    "VGPU",
    "VGPU_DISPLAY_HEAD",
    "NET_BW_EGR_KILOBIT_PER_SEC",
    "NET_BW_IGR_KILOBIT_PER_SEC",
    "PCPU",
    "MEM_ENCRYPTION_CONTEXT",
    "FPGA",
    "PGPU",
    "NET_PACKET_RATE_KILOPACKET_PER_SEC",
    "NET_PACKET_RATE_EGR_KILOPACKET_PER_SEC",
    "NET_PACKET_RATE_IGR_KILOPACKET_PER_SEC",
)

# A working subset of os-traits: the ones schedulers and operators reach for most.
STANDARD_TRAITS: tuple[str, ...] = (
    DISABLED_TRAIT,
    "COMPUTE_VOLUME_MULTI_ATTACH",
    "COMPUTE_TRUSTED_CERTS",
    "COMPUTE_GRAPHICS_MODEL_VIRTIO",
    "COMPUTE_NET_ATTACH_INTERFACE",
    "COMPUTE_IMAGE_TYPE_QCOW2",
    "COMPUTE_IMAGE_TYPE_RAW",
    "HW_CPU_X86_AVX",
    "HW_CPU_X86_AVX2",
    "HW_CPU_X86_AVX512F",
    "HW_CPU_X86_SSE42",
    "HW_CPU_X86_AMD_SEV",
    "HW_CPU_X86_SGX",
    "HW_CPU_HYPERTHREADING",
    "HW_CPU_AARCH64_SVE",
    "HW_GPU_API_CUDA_V10_0",
    "HW_GPU_API_VULKAN",
    "HW_NIC_SRIOV",
    "HW_NIC_OFFLOAD_TSO",
    "HW_NUMA_ROOT",
    "STORAGE_DISK_HDD",
    "STORAGE_DISK_SSD",
    SHARING_TRAIT,
)


def is_custom(name: str) -> bool:
    return name.startswith(CUSTOM_PREFIX)


def _validate(name: object, kind: str, standard: tuple[str, ...]) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"A {kind} name must be a non-empty string, got {name!r}.")
    if len(name) > _MAX_NAME:
        raise InvalidInput(f"{kind.capitalize()} name {name[:40]}... is longer than 255.")
    if name in standard or _CUSTOM_RE.match(name):
        return name
    raise InvalidInput(
        f"{name!r} is not a valid {kind} name.",
        hint=f"Use a standard {kind} or a custom one matching CUSTOM_[A-Z0-9_]+ "
        f"(for example {CUSTOM_PREFIX}{_suggest(name)}).",
    )


def _suggest(name: str) -> str:
    cleaned = re.sub(r"[^A-Z0-9_]", "_", name.upper()).removeprefix(CUSTOM_PREFIX)
    return cleaned or "NAME"


def validate_resource_class(name: object) -> str:
    """Return ``name`` if it is a standard or well-formed custom resource class."""
    return _validate(name, "resource class", STANDARD_RESOURCE_CLASSES)


def validate_trait(name: object) -> str:
    """Return ``name`` if it is a standard or well-formed custom trait."""
    return _validate(name, "trait", STANDARD_TRAITS)


def validate_trait_sets(required: frozenset[str], forbidden: frozenset[str]) -> None:
    """Every name valid, and no trait both required and forbidden."""
    for trait in required | forbidden:
        validate_trait(trait)
    both = required & forbidden
    if both:
        raise InvalidInput(
            f"Traits both required and forbidden: {', '.join(sorted(both))}.",
            hint="A provider cannot have and lack a trait; drop one side.",
        )
