"""Versioned records: the small documents under conductor, agent and heartbeats.

Build requests, instances, heartbeats, host stats, server groups and zones are typed,
frozen values (one class per kind, each with its ``KIND`` and ``SCHEMA``). The store
keeps them as JSON documents under ``(kind, key)``; ``encode``/``decode`` here are the
only place that turns one into the other, so nothing above the store reads a record
value by string key.

``revision`` is the store-wide revision of the record's last write (etcd's
``mod_revision``); writes compare it, so two conductors can never both advance one
build request. Keys are paths (``<host-uuid>/<instance-uuid>``) so that an agent can
list or watch just its own prefix.

A document carries ``schema``: the version of its kind's shape when it was written.
Documents without one were written before versioning (schema 1). A kind whose shape
changes raises ``SCHEMA`` and gives an ``upgrade(doc, version)`` that brings an older
document up to date, so records written by an older berthing still read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import msgspec

from berthing.model.errors import InvalidInput, StoreCorrupt

__all__ = [
    "JSONDoc",
    "Record",
    "RecordValue",
    "V",
    "decode_value",
    "encode_value",
    "validate_record_name",
]

_NAME_RE = re.compile(r"^[A-Za-z0-9_.:@/-]{1,250}$")
_SCHEMA_FIELD = "schema"

JSONDoc = dict[str, Any]
"""A record's stored form: what ``json.loads`` gives back."""


class RecordValue(Protocol):
    """What every record kind declares: its kind name and the version of its shape."""

    KIND: ClassVar[str]
    SCHEMA: ClassVar[int]


V = TypeVar("V", bound=RecordValue)


@dataclass(frozen=True, slots=True)
class Record(Generic[V]):
    key: str
    value: V
    revision: int

    @property
    def kind(self) -> str:
        return self.value.KIND


def validate_record_name(what: str, name: object) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name) or "//" in name:
        raise InvalidInput(
            f"Record {what} {name!r} is not valid.",
            hint="Use 1 to 250 of A-Z a-z 0-9 _ . : @ / -, without '//'.",
        )
    return name


def encode_value(value: RecordValue) -> JSONDoc:
    """The JSON-ready document for ``value``, sets sorted so equal values encode alike."""
    try:
        doc = msgspec.to_builtins(value, order="deterministic")
    except (TypeError, msgspec.EncodeError) as exc:
        raise InvalidInput(
            f"A {value.KIND} record cannot be stored as JSON: {exc}.",
            hint="Use str, int, float, bool, None, lists, sets and mappings of them.",
        ) from exc
    if not isinstance(doc, dict):
        raise InvalidInput(f"A {value.KIND} record must encode to an object, got {doc!r}.")
    doc[_SCHEMA_FIELD] = value.SCHEMA
    return doc


def decode_value(cls: type[V], doc: Mapping[str, Any], key: str = "") -> V:
    """The typed value of a stored document, upgraded from an older schema if needed."""
    data = dict(doc)
    version = data.pop(_SCHEMA_FIELD, 1)
    if not isinstance(version, int) or version > cls.SCHEMA:
        raise StoreCorrupt(
            f"Record {cls.KIND}/{key} has schema {version!r}; this berthing reads up to "
            f"{cls.SCHEMA}.",
            hint="Upgrade berthing on this machine to the version that wrote the record.",
        )
    upgrade = getattr(cls, "upgrade", None)
    if version < cls.SCHEMA and upgrade is not None:
        data = upgrade(data, version)
    try:
        return msgspec.convert(data, cls)
    except msgspec.ValidationError as exc:
        raise StoreCorrupt(
            f"Record {cls.KIND}/{key} does not have the shape of a {cls.__name__}: {exc}.",
            hint="Something other than berthing wrote it; delete or repair the record.",
        ) from exc
