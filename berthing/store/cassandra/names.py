"""Custom resource classes and traits, and provider names.

Custom names of one kind share one partition (they change rarely), each row holding
the providers that use the name. A provider adds itself there (LWT, ``IF EXISTS``)
*before* its own write that starts using the name, so a name cannot be deleted while a
provider may use it; a delete finds a user that does not use the name any more (its
write failed, or it stopped using the name and the removal was lost) and drops it.

Provider names are one partition each (``pnames``), reserved with ``IF NOT EXISTS``
before the provider is created or renamed and released after it is deleted or renamed.
A reservation whose provider does not carry the name (a writer died in between) is
taken over.
"""

from __future__ import annotations

from collections.abc import Callable

from berthing.model import DuplicateName, InUse, ResourceClassNotFound, TraitNotFound
from berthing.store.cassandra.session import Cql, Query

__all__ = ["Names", "ProviderNames"]

_ROW = "SELECT name, op, users FROM names WHERE store = ? AND kind = ? AND name = ?"
_ALL = "SELECT name FROM names WHERE store = ? AND kind = ?"
_INSERT = "INSERT INTO names (store, kind, name, op) VALUES (?, ?, ?, ?) IF NOT EXISTS"
_ADD = "UPDATE names SET users = users + ? WHERE store = ? AND kind = ? AND name = ? IF EXISTS"
_REMOVE = "UPDATE names SET users = users - ? WHERE store = ? AND kind = ? AND name = ? IF EXISTS"
_DELETE = "DELETE FROM names WHERE store = ? AND kind = ? AND name = ? IF op = ? AND users = null"

_PNAME = "SELECT uuid, op FROM pnames WHERE store = ? AND name = ?"
_PNAME_TAKE = "INSERT INTO pnames (store, name, uuid, op) VALUES (?, ?, ?, ?) IF NOT EXISTS"
_PNAME_STEAL = "UPDATE pnames SET uuid = ?, op = ? WHERE store = ? AND name = ? IF op = ?"
_PNAME_FREE = "DELETE FROM pnames WHERE store = ? AND name = ? IF uuid = ?"


def missing(kind: str, name: str) -> Exception:
    return ResourceClassNotFound(name) if kind == "class" else TraitNotFound(name)


class Names:
    def __init__(self, cql: Cql, store: str) -> None:
        self.cql, self.store = cql, store

    def ensure(self, kind: str, name: str, op: str) -> bool:
        """Create the name if missing; True if this call created it."""
        q: Query = (_INSERT, (self.store, kind, name, op))
        while True:
            result = self.cql.cas([q], f"creating {name}")
            if result is not None:
                return result.applied or result.row.get("op") == op
            rows = self.cql.serial_read(_ROW, (self.store, kind, name), "resolving a name")
            if rows:
                return bool(rows[0]["op"] == op)

    def custom(self, kind: str) -> list[str]:
        return [str(r["name"]) for r in self.cql.read(_ALL, (self.store, kind))]

    def exists(self, kind: str, name: str) -> bool:
        return bool(self.cql.read(_ROW, (self.store, kind, name)))

    def add_user(self, kind: str, name: str, user: str) -> None:
        """Record ``user`` as using the name; the name's NotFound if it does not exist."""
        result = self._cas(_ADD, {user}, kind, name)
        if result is False:
            raise missing(kind, name)

    def remove_user(self, kind: str, name: str, user: str) -> None:
        self._cas(_REMOVE, {user}, kind, name)

    def _cas(self, cql: str, users: set[str], kind: str, name: str) -> bool | None:
        result = self.cql.cas([(cql, (users, self.store, kind, name))], f"updating {name}")
        if result is None:  # unknown: both statements are idempotent, send again
            result = self.cql.cas([(cql, (users, self.store, kind, name))], f"updating {name}")
        return None if result is None else result.applied

    def delete(self, kind: str, name: str, in_use: Callable[[str], bool], error: InUse) -> None:
        """Delete the name unless a user still uses it (``in_use(user)``)."""
        while True:
            rows = self.cql.read(_ROW, (self.store, kind, name))
            if not rows:
                raise missing(kind, name)
            row = rows[0]
            users = set(row["users"] or ())
            if any(in_use(u) for u in sorted(users)):
                raise error
            for u in users:  # users that do not use it any more
                self.remove_user(kind, name, u)
            result = self.cql.cas([(_DELETE, (self.store, kind, name, row["op"]))], "deleting")
            if result is None and not self.cql.serial_read(_ROW, (self.store, kind, name), "x"):
                return
            if result is not None and result.applied:
                return

    def rename(self, old: str, new: str, op: str, in_use: Callable[[str], bool]) -> None:
        """Rename an unused custom class in one LWT (both rows share a partition)."""
        while True:
            rows = self.cql.read(_ROW, (self.store, "class", old))
            if not rows:
                if self._renamed_by(new, op):
                    return
                raise ResourceClassNotFound(old)
            if self.exists("class", new):
                raise DuplicateName(
                    f"Resource class {new} exists already.", hint="Pick another name."
                )
            users = set(rows[0]["users"] or ())
            if any(in_use(u) for u in users):
                raise InUse(
                    f"{old} is used by inventories.", hint="Only an unused class can be renamed."
                )
            for u in users:
                self.remove_user("class", old, u)
            queries: list[Query] = [
                (_DELETE, (self.store, "class", old, rows[0]["op"])),
                (_INSERT, (self.store, "class", new, op)),
            ]
            result = self.cql.cas(queries, f"renaming {old}")
            if (result is not None and result.applied) or self._renamed_by(new, op):
                return

    def _renamed_by(self, new: str, op: str) -> bool:
        rows = self.cql.serial_read(_ROW, (self.store, "class", new), "resolving a rename")
        return bool(rows) and rows[0]["op"] == op


class ProviderNames:
    """Provider names, unique within a store."""

    def __init__(self, cql: Cql, store: str) -> None:
        self.cql, self.store = cql, store

    def reserve(self, name: str, uuid: str, op: str, holder_named: Callable[[str], bool]) -> bool:
        """Reserve ``name`` for provider ``uuid``; False if a provider that exists holds it
        (``holder_named(uuid)``: does that provider carry the name?)."""
        while True:
            result = self.cql.cas([(_PNAME_TAKE, (self.store, name, uuid, op))], "naming")
            if result is None:
                rows = self.cql.serial_read(_PNAME, (self.store, name), "resolving a name")
                if rows and rows[0]["op"] == op:
                    return True
                continue
            if result.applied or result.row.get("op") == op:
                return True
            holder, their_op = str(result.row["uuid"]), result.row["op"]
            if holder == uuid or holder_named(holder):
                return holder == uuid
            # A reservation nobody uses (its writer died, or the provider was renamed).
            steal = self.cql.cas(
                [(_PNAME_STEAL, (uuid, op, self.store, name, their_op))], "taking over a name"
            )
            if steal is not None and steal.applied:
                return True

    def release(self, name: str, uuid: str) -> None:
        self.cql.cas([(_PNAME_FREE, (self.store, name, uuid))], "releasing a name")
