"""Versioned records: the small document store under conductor, agent and heartbeats.

Build requests, instances and heartbeats are JSON documents under ``(kind, key)``.
``revision`` is the store-wide revision of the record's last write (etcd's
``mod_revision``); writes compare it, so two conductors can never both advance one
build request. Keys are paths (``cell1/host-7/instance-uuid``) so that an agent can
list or watch just its own prefix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from berthing.model.errors import InvalidInput

__all__ = ["Record", "validate_record_name"]

_NAME_RE = re.compile(r"^[A-Za-z0-9_.:@/-]{1,250}$")


def validate_record_name(what: str, name: object) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name) or "//" in name:
        raise InvalidInput(
            f"Record {what} {name!r} is not valid.",
            hint="Use 1 to 250 of A-Z a-z 0-9 _ . : @ / -, without '//'.",
        )
    return name


@dataclass(frozen=True, slots=True)
class Record:
    kind: str
    key: str
    value: Mapping[str, Any]
    revision: int
