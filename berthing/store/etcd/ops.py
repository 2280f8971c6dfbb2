"""etcd requests and answers as plain typed values.

The rest of the backend builds these and never sees the driver's protobuf classes;
only ``kv.py`` converts them. That keeps the driver behind one small boundary, and
keeps every other module checkable by mypy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "Compare",
    "Delete",
    "KeyValue",
    "Op",
    "Put",
    "Range",
    "TxnResult",
    "prefix_end",
]


def prefix_end(prefix: bytes) -> bytes:
    """The ``range_end`` that makes a range cover exactly the keys under ``prefix``."""
    s = bytearray(prefix)
    while s:
        if s[-1] < 0xFF:
            s[-1] += 1
            return bytes(s)
        s.pop()
    return b"\0"  # every key


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: bytes
    value: bytes
    create_revision: int
    mod_revision: int
    lease: int = 0


@dataclass(frozen=True, slots=True)
class Range:
    """Read ``key`` (or ``[key, range_end)``), at ``revision`` if given (0: newest)."""

    key: bytes
    range_end: bytes = b""
    revision: int = 0
    limit: int = 0
    keys_only: bool = False
    min_mod_revision: int = 0

    @staticmethod
    def prefix(
        prefix: bytes,
        revision: int = 0,
        limit: int = 0,
        keys_only: bool = False,
        min_mod_revision: int = 0,
    ) -> Range:
        """Every key that starts with ``prefix``."""
        return Range(prefix, prefix_end(prefix), revision, limit, keys_only, min_mod_revision)


@dataclass(frozen=True, slots=True)
class Put:
    key: bytes
    value: bytes
    lease: int = 0


@dataclass(frozen=True, slots=True)
class Delete:
    key: bytes
    range_end: bytes = b""


Op = Range | Put | Delete


@dataclass(frozen=True, slots=True)
class Compare:
    """``target(key or every key in [key, range_end)) <op> value``.

    etcd compares an absent key as if all its revisions were 0, so ``mod == 0`` means
    "still absent" and ``create == 0`` over a range means "the range is empty".
    """

    key: bytes
    target: Literal["mod", "create", "version"]
    op: Literal["==", "!=", "<", ">"]
    value: int
    range_end: bytes = b""


@dataclass(frozen=True, slots=True)
class TxnResult:
    succeeded: bool
    #: The store revision the transaction ran at (its own revision if it wrote).
    revision: int
    #: The answer of each Range op of the branch that ran, in order.
    ranges: list[list[KeyValue]] = field(default_factory=list)
    #: True if an earlier attempt of this same request may have been applied already:
    #: it failed on a connection error after it may have reached the server.
    ambiguous: bool = False
