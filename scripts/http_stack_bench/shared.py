"""What every candidate app shares, so that only the framework differs between them.

The Placement rules the benchmark exercises live here once: the microversion header
(parse ``OpenStack-API-Version``, answer with it and ``Vary``), the error document,
the ``GET /allocation_candidates`` query-string parse, and the deterministic data the
handlers serve. Nothing here imports a framework or a payload library.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from email.utils import formatdate

__all__ = [
    "GROUP_PATTERN",
    "MAX_VERSION",
    "MIN_VERSION",
    "RC_PATTERN",
    "UUID_PATTERN",
    "ApiError",
    "CandidateQuery",
    "CandidateRow",
    "Version",
    "candidate_rows",
    "error_body",
    "get_headers",
    "parse_candidate_query",
    "parse_microversion",
    "put_body",
    "version_headers",
]

# Placement's own patterns (placement/schemas/common.py), anchored.
UUID_PATTERN = "^[0-9a-fA-F-]{36}$"
RC_PATTERN = "^[A-Z0-9_]+$"
GROUP_PATTERN = "^[a-zA-Z0-9_-]{0,64}$"

Version = tuple[int, int]
MIN_VERSION: Version = (1, 0)
MAX_VERSION: Version = (1, 39)
SERVICE = "placement"
HEADER = "openstack-api-version"


class ApiError(Exception):
    """An error the API answers with Placement's error document; raised anywhere, mapped once."""

    def __init__(self, status: int, title: str, detail: str, code: str = "") -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.code = code or "placement.undefined_code"


def error_body(err: ApiError) -> bytes:
    """Placement's error shape (1.23+: with ``code``); errors are rare, stdlib json is fine."""
    doc = {
        "errors": [
            {
                "status": err.status,
                "title": err.title,
                "detail": err.detail,
                "code": err.code,
                "request_id": "",
            }
        ]
    }
    return json.dumps(doc).encode()


def parse_microversion(header: str | None) -> Version:
    """The placement microversion a request asks for: absent means the minimum, as in Placement.

    The header may name several services (``placement 1.39, compute 2.90``)."""
    if not header:
        return MIN_VERSION
    for item in header.split(","):
        service, _, value = item.strip().partition(" ")
        if service.lower() == SERVICE:
            return _check_version(value.strip())
    return MIN_VERSION


def _check_version(value: str) -> Version:
    if value == "latest":
        return MAX_VERSION
    major, dot, minor = value.partition(".")
    if not (dot and major.isdigit() and minor.isdigit()):
        raise ApiError(400, "Bad Request", f"invalid version string: {value}")
    version = (int(major), int(minor))
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise ApiError(406, "Not Acceptable", f"Unacceptable version header: {value}")
    return version


def version_headers(version: Version) -> list[tuple[str, str]]:
    """What every response carries: the version served, and Vary so caches key on it."""
    return [(HEADER, f"{SERVICE} {version[0]}.{version[1]}"), ("vary", HEADER)]


_last_modified: tuple[int, str] = (0, "")


def get_headers(version: Version) -> list[tuple[str, str]]:
    """GET responses from 1.15 on: ``cache-control: no-cache`` and ``last-modified: now``.

    The date is formatted once a second, not once a request."""
    global _last_modified
    if version < (1, 15):
        return []
    now = int(time.time())
    if _last_modified[0] != now:
        _last_modified = (now, formatdate(now, usegmt=True))
    return [("cache-control", "no-cache"), ("last-modified", _last_modified[1])]


@dataclass(frozen=True, slots=True)
class CandidateQuery:
    """The parsed query string of ``GET /allocation_candidates`` (unsuffixed group only)."""

    resources: tuple[tuple[str, int], ...]
    required: frozenset[str]
    forbidden: frozenset[str]
    limit: int | None


def parse_candidate_query(
    resources: str | None, required: str | None, limit: str | int | None
) -> CandidateQuery:
    """``resources=VCPU:1,MEMORY_MB:512&required=HW_CPU_X86_AVX2,!CUSTOM_X&limit=10``."""
    if not resources:
        raise ApiError(400, "Bad Request", "'resources' is a required property")
    amounts = tuple(_parse_amount(part) for part in resources.split(","))
    traits = [t.strip() for t in required.split(",")] if required else []
    return CandidateQuery(
        resources=amounts,
        required=frozenset(t for t in traits if not t.startswith("!")),
        forbidden=frozenset(t[1:] for t in traits if t.startswith("!")),
        limit=_parse_limit(limit),
    )


def _parse_amount(part: str) -> tuple[str, int]:
    rc, _, amount = part.partition(":")
    if not (rc and amount.isdigit() and int(amount) > 0):
        raise ApiError(400, "Bad Request", f"Badly formed resources parameter: {part}")
    return rc.strip(), int(amount)


def _parse_limit(limit: str | int | None) -> int | None:
    if limit is None or isinstance(limit, int):
        value = limit
    elif limit.isdigit():
        value = int(limit)
    else:
        raise ApiError(400, "Bad Request", f"Invalid limit: {limit}")
    if value is not None and value < 1:
        raise ApiError(400, "Bad Request", f"Invalid limit: {value}")
    return value


# ---- the data the handlers serve (pre-built: the benchmark measures HTTP, not a store)

_TRAITS = (
    "HW_CPU_X86_AVX",
    "HW_CPU_X86_AVX2",
    "HW_CPU_X86_SSE42",
    "HW_CPU_X86_AESNI",
    "HW_CPU_X86_FMA3",
    "HW_CPU_X86_BMI2",
    "HW_CPU_X86_SHA",
    "HW_CPU_X86_SSE41",
    "HW_CPU_X86_SSSE3",
    "HW_CPU_X86_CLMUL",
    "HW_CPU_X86_F16C",
    "HW_CPU_HYPERTHREADING",
    "COMPUTE_NET_ATTACH_PORT_WITH_TAG",
    "COMPUTE_VOLUME_MULTI_ATTACH",
    "COMPUTE_VOLUME_ATTACH_WITH_TAG",
    "COMPUTE_VOLUME_EXTEND",
    "COMPUTE_IMAGE_TYPE_QCOW2",
    "COMPUTE_IMAGE_TYPE_RAW",
    "COMPUTE_DEVICE_TAGGING",
    "COMPUTE_TRUSTED_CERTS",
    "COMPUTE_ACCELERATORS",
    "COMPUTE_NODE",
    "STORAGE_DISK_SSD",
    "CUSTOM_RACK_B12",
)


@dataclass(frozen=True, slots=True)
class CandidateRow:
    """One candidate host: its uuid, inventory use by class, and traits."""

    uuid: str
    resources: tuple[tuple[str, int, int], ...]  # (class, capacity, used)
    traits: tuple[str, ...]


def candidate_rows(count: int) -> list[CandidateRow]:
    """``count`` deterministic hosts of the shape Nova's compute nodes report."""
    rows = []
    for i in range(count):
        rows.append(
            CandidateRow(
                uuid=str(uuid.uuid5(uuid.NAMESPACE_DNS, f"compute-{i}.berthing")),
                resources=(
                    ("VCPU", 128, 2 * i),
                    ("MEMORY_MB", 507904, 4096 * i),
                    ("DISK_GB", 1800, 40 * i),
                    ("PCPU", 16, i % 4),
                ),
                traits=_TRAITS[: 20 + i % 5],
            )
        )
    return rows


def put_body(consumer_generation: int | None = 1) -> dict[str, object]:
    """A ``PUT /allocations/{uuid}`` body at 1.38 (~500 bytes): a host and a shared disk pool."""
    host, pool = (str(uuid.uuid5(uuid.NAMESPACE_DNS, n)) for n in ("compute-3", "pool-1"))
    return {
        "allocations": {
            host: {"resources": {"VCPU": 2, "MEMORY_MB": 4096, "PCPU": 1}, "generation": 7},
            pool: {"resources": {"DISK_GB": 40}},
        },
        "mappings": {"": [host], "_DISK": [pool]},
        "project_id": "6e3b8c1c9f2f4b3e8a1d2c3b4a5f6e7d",
        "user_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "consumer_generation": consumer_generation,
        "consumer_type": "INSTANCE",
    }
