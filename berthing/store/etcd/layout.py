"""The key layout, schema version 1, and the JSON documents stored under each key.

Everything lives under ``/<prefix>/v1/`` (see docs/etcd.md for the full table). The
part the in-memory catalogue watches (providers, inventories, usages, custom classes
and traits) sits under one sub-prefix, ``cat/``, so that one watch covers it and no
claim-only key (consumers, allocations) wakes it. Every id that comes from a caller is
percent-encoded, so no input can reach outside its own key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote

from berthing.model import BerthingError, Inventory, Provider, StoreCorrupt
from berthing.store.documents import inventories_to

__all__ = [
    "LAYOUT_VERSION",
    "Keys",
    "decode",
    "encode",
    "inventories_from",
    "inventories_to",
    "provider_from",
    "usages_from",
]

LAYOUT_VERSION = 1


def _q(part: str) -> str:
    return quote(part, safe="")


class Keys:
    """Every key the backend uses, as bytes, under ``/<prefix>/v1/``."""

    def __init__(self, prefix: str) -> None:
        self.root = f"/{prefix}/v{LAYOUT_VERSION}/"
        self.cat = self.root + "cat/"

    def _k(self, *parts: str) -> bytes:
        return (self.root + "/".join(parts)).encode()

    def _c(self, *parts: str) -> bytes:
        return (self.cat + "/".join(parts)).encode()

    # -- the schema marker ------------------------------------------------------------
    @property
    def schema(self) -> bytes:
        return self._k("schema")

    # -- watched by the catalogue: cat/ -----------------------------------------------
    def provider(self, uuid: str) -> bytes:
        return self._c("providers", _q(uuid))

    def inventory(self, uuid: str) -> bytes:
        return self._c("inventories", _q(uuid))

    def usage(self, uuid: str) -> bytes:
        return self._c("usages", _q(uuid))

    def resource_class(self, name: str) -> bytes:
        return self._c("classes", _q(name))

    def trait(self, name: str) -> bytes:
        return self._c("traits", _q(name))

    def cat_kind(self, key: bytes) -> tuple[str, str] | None:
        """``(kind, id)`` of a key under ``cat/`` (kind: providers, inventories, ...)."""
        text = key.decode(errors="replace")
        if not text.startswith(self.cat):
            return None
        kind, _, ident = text[len(self.cat) :].partition("/")
        return kind, unquote(ident)

    # -- indexes that guard deletes -----------------------------------------------------
    def name(self, name: str) -> bytes:
        return self._k("names", _q(name))

    def children(self, parent: str) -> bytes:
        return self._k("children", _q(parent), "")

    def child(self, parent: str, child: str) -> bytes:
        return self._k("children", _q(parent), _q(child))

    def class_users(self, rc: str) -> bytes:
        return self._k("class_use", _q(rc), "")

    def class_user(self, rc: str, uuid: str) -> bytes:
        return self._k("class_use", _q(rc), _q(uuid))

    def trait_users(self, trait: str) -> bytes:
        return self._k("trait_use", _q(trait), "")

    def trait_user(self, trait: str, uuid: str) -> bytes:
        return self._k("trait_use", _q(trait), _q(uuid))

    # -- consumers and allocations ------------------------------------------------------
    def consumer(self, uuid: str) -> bytes:
        return self._k("consumers", _q(uuid))

    def allocations(self, provider: str) -> bytes:
        return self._k("allocations", _q(provider), "")

    def allocation(self, provider: str, consumer: str) -> bytes:
        return self._k("allocations", _q(provider), _q(consumer))

    def project_use(self, project: str, user: str | None = None, consumer: str = "") -> bytes:
        if user is None:
            return self._k("projects", _q(project), "")
        return self._k("projects", _q(project), _q(user), _q(consumer) if consumer else "")

    # -- records ------------------------------------------------------------------------
    def records(self, kind: str, prefix: str = "") -> bytes:
        # Record keys are validated to [A-Za-z0-9_.:@/-], so they stay readable as they
        # are; the kind is encoded so that a '/' in it cannot shift the boundary.
        return self._k("records", _q(kind), prefix)

    def record(self, kind: str, key: str) -> bytes:
        return self.records(kind, key)

    def record_key(self, kind: str, key: bytes) -> str:
        return key.decode()[len(self.records(kind).decode()) :]


def encode(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def decode(key: bytes, raw: bytes) -> dict[str, Any]:
    """The JSON object under ``key``; StoreCorrupt naming the key if it is not one."""
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise _corrupt(key, f"not JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise _corrupt(key, f"a JSON {type(doc).__name__}, not an object")
    return doc


def _corrupt(key: bytes, what: str) -> StoreCorrupt:
    return StoreCorrupt(
        f"etcd key {key.decode(errors='replace')} holds {what}; berthing did not write it.",
        hint="Something else writes under this prefix: give berthing its own prefix "
        "(etcd://hosts/prefix) and restore the key from a backup or delete it.",
    )


def provider_from(key: bytes, uuid: str, doc: Mapping[str, Any]) -> Provider:
    try:
        return Provider(
            uuid=uuid,
            name=str(doc["name"]),
            generation=int(doc["generation"]),
            parent_uuid=doc["parent"],
            root_uuid=str(doc["root"]),
            traits=frozenset(doc["traits"]),
            aggregates=frozenset(doc["aggregates"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise _corrupt(key, f"a provider document without {exc}") from exc


def inventories_from(key: bytes, doc: Mapping[str, Any] | None) -> dict[str, Inventory]:
    if doc is None:
        return {}
    try:
        return {rc: Inventory(**fields) for rc, fields in doc.items()}
    except (TypeError, BerthingError) as exc:
        raise _corrupt(key, f"an unusable inventory ({exc})") from exc


def usages_from(key: bytes, doc: Mapping[str, Any] | None) -> dict[str, int]:
    if doc is None:
        return {}
    if not all(isinstance(v, int) for v in doc.values()):
        raise _corrupt(key, "a usage that is not an integer")
    return dict(doc)
