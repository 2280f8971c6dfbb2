"""What a backend can do beyond the contracts, declared by the backend and required by
callers when they open a store (``open_store(url, require={...})``), so that a
multi-process demo refuses an in-memory store at once instead of failing later."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from berthing.model import InvalidInput

__all__ = ["Capability", "check"]


class Capability(StrEnum):
    SHARED = "shared"
    """Several OS processes can open the same store by its URL (a SQLite file, a cluster)."""
    REPLICATED = "replicated"
    """Data lives on several machines and survives the loss of one."""
    NATIVE_WATCH = "native-watch"
    """``watch_records`` is pushed by the engine; without it, the default polls."""
    NATIVE_TTL = "native-ttl"
    """Records with a TTL are expired by the engine itself (an etcd lease, a Cassandra TTL),
    even if no berthing process is running."""


def check(url: str, have: frozenset[Capability], wanted: Iterable[Capability]) -> None:
    """Raise ``InvalidInput`` naming what the store at ``url`` lacks."""
    missing = sorted(set(wanted) - have)
    if missing:
        raise InvalidInput(
            f"The store {url} lacks {', '.join(missing)}; it has "
            f"{', '.join(sorted(have)) or 'none of the optional capabilities'}.",
            hint="Use a store that has them: a sqlite:///file.db for several processes on "
            "one machine, etcd:// or cassandra:// for several machines.",
        )
