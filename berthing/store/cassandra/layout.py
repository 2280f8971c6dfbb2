"""Values as the tables hold them: the hybrid clock, provider state, JSON columns.

``PState`` is one provider's static row: what ``find_providers`` returns, what a claim
decides on, and what the catalogue keeps (as JSON in ``catalogue``/``feed``).
"""

from __future__ import annotations

import json
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from berthing.model import (
    BerthingError,
    Inventory,
    Provider,
    ProviderState,
    StoreCorrupt,
)
from berthing.store.documents import inventories_to

__all__ = [
    "BUCKETS",
    "MARKER_TTL",
    "PState",
    "bucket",
    "dumps",
    "inventories_from",
    "inventories_to",
    "loads",
    "now_us",
    "state_from_json",
]

#: Partitions the catalogue table is spread over (each holds ~1/BUCKETS of the providers).
BUCKETS = 16
#: Seconds an operation's marker row lives: far longer than any writer keeps retrying,
#: so that a fenced writer can never land its write after the fence has expired.
MARKER_TTL = 3600

_clock = threading.Lock()
_last = 0


def now_us() -> int:
    """Hybrid-clock microseconds: the wall clock, but strictly increasing in this process."""
    global _last
    with _clock:
        _last = max(time.time_ns() // 1000, _last + 1)
        return _last


def after(previous: int | None) -> int:
    """A clock value above ``previous`` (a version or revision read from the store)."""
    value = now_us()
    return value if previous is None or value > previous else previous + 1


def bucket(uuid: str) -> int:
    return zlib.crc32(uuid.encode()) % BUCKETS


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def loads(text: str | None, what: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise _corrupt(what, f"not JSON ({exc})") from exc


def _corrupt(what: str, problem: str) -> StoreCorrupt:
    return StoreCorrupt(
        f"Cassandra holds {problem} in {what}; berthing did not write it.",
        hint="Something else writes into this keyspace: give berthing its own keyspace "
        "(cassandra://hosts/keyspace) and restore the row from a backup.",
    )


def inventories_from(doc: Mapping[str, Any] | None, what: str) -> dict[str, Inventory]:
    if not doc:
        return {}
    try:
        return {rc: Inventory(**fields) for rc, fields in doc.items()}
    except (TypeError, BerthingError) as exc:
        raise _corrupt(what, f"an unusable inventory ({exc})") from exc


@dataclass(frozen=True, slots=True)
class PState:
    """One provider as its partition's static row holds it."""

    uuid: str
    version: int
    generation: int
    name: str
    parent: str | None
    root: str
    traits: frozenset[str] = frozenset()
    aggregates: frozenset[str] = frozenset()
    shuffle: int = 0
    created: int = 0
    inventories: Mapping[str, Inventory] = field(default_factory=dict)
    used: Mapping[str, int] = field(default_factory=dict)
    children: frozenset[str] = frozenset()
    #: The multi-provider change holding this provider, since when, and for which consumers.
    frozen: str | None = None
    frozen_at: int = 0
    frozen_by: str = ""
    _state: ProviderState | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def provider(self) -> Provider:
        return Provider(
            self.uuid,
            self.name,
            self.generation,
            self.parent,
            self.root,
            self.traits,
            self.aggregates,
        )

    @property
    def state(self) -> ProviderState:
        """As the contract returns it (built once: queries test it against every filter)."""
        if self._state is None:
            usages = {rc: self.used.get(rc, 0) for rc in self.inventories}
            object.__setattr__(
                self, "_state", ProviderState(self.provider, self.inventories, usages)
            )
        assert self._state is not None
        return self._state

    def moved(self, version: int, **changes: Any) -> PState:
        """This state at ``version`` with ``changes``."""
        return replace(self, version=version, **changes)

    @classmethod
    def from_row(cls, uuid: str, row: Mapping[str, Any] | None) -> PState | None:
        """The provider in a static row; None if it does not exist."""
        if row is None or row.get("version") is None:
            return None
        what = f"provider {uuid}"
        try:
            return cls(
                uuid=uuid,
                version=int(row["version"]),
                generation=int(row["generation"]),
                name=str(row["name"]),
                parent=row["parent"],
                root=str(row["root"]),
                traits=frozenset(row["traits"] or ()),
                aggregates=frozenset(row["aggregates"] or ()),
                shuffle=int(row["shuffle"] or 0),
                created=int(row["created"] or 0),
                inventories=inventories_from(loads(row["inventories"], what), what),
                used={str(k): int(v) for k, v in (row["used"] or {}).items()},
                children=frozenset(row["children"] or ()),
                frozen=row["frozen"],
                frozen_at=int(row["frozen_at"] or 0),
                frozen_by=str(row["frozen_by"] or ""),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise _corrupt(what, f"a provider row without {exc}") from exc

    def to_json(self) -> str:
        return dumps(
            {
                "version": self.version,
                "generation": self.generation,
                "name": self.name,
                "parent": self.parent,
                "root": self.root,
                "traits": sorted(self.traits),
                "aggregates": sorted(self.aggregates),
                "shuffle": self.shuffle,
                "created": self.created,
                "inventories": inventories_to(self.inventories),
                "used": dict(self.used),
                "children": sorted(self.children),
                "frozen": self.frozen,
                "frozen_at": self.frozen_at,
                "frozen_by": self.frozen_by,
            }
        )


def state_from_json(uuid: str, text: str) -> PState | None:
    """A catalogue or feed entry: the provider's state, or None for a deleted one."""
    doc = loads(text, f"catalogue entry {uuid}")
    if not isinstance(doc, dict) or doc.get("deleted"):
        return None
    row = {**doc, "inventories": dumps(doc.get("inventories") or {})}
    return PState.from_row(uuid, row)


def deleted_json(version: int) -> str:
    return dumps({"deleted": True, "version": version})


def version_of(text: str) -> int:
    doc = loads(text, "a catalogue entry")
    return int(doc.get("version", 0)) if isinstance(doc, dict) else 0
