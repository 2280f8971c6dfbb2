"""The decision of a multi-provider change, written once: ``committed`` (with the plan
every leg applies) by its writer once all its providers are frozen, or ``aborted`` by
a recoverer that found it abandoned. Both are ``INSERT ... IF NOT EXISTS``, so exactly
one of them lands, and everyone who reads it afterwards (at SERIAL) agrees.
"""

from __future__ import annotations

from typing import Any

from berthing.store.cassandra.layout import dumps, loads
from berthing.store.cassandra.session import Cql

__all__ = ["Registers"]

_INSERT = "INSERT INTO intents (store, id, state, plan) VALUES (?, ?, ?, ?) IF NOT EXISTS"
_SELECT = "SELECT state, plan FROM intents WHERE store = ? AND id = ?"


class Registers:
    def __init__(self, cql: Cql, store: str) -> None:
        self.cql, self.store = cql, store

    def decide(self, op: str, state: str, plan: Any = None) -> tuple[str, Any]:
        """Write ``state`` as ``op``'s decision unless one exists; the decision that
        stands (state, plan) either way."""
        q = (_INSERT, (self.store, op, state, None if plan is None else dumps(plan)))
        while True:
            result = self.cql.cas([q], f"deciding change {op}")
            if result is not None and result.applied:
                return state, plan
            if result is not None:
                return str(result.row["state"]), loads(result.row.get("plan"), f"intent {op}")
            # Unknown outcome: the SERIAL read is final; if nothing is there, nothing
            # landed and the insert may be sent again.
            found = self.read(op, serial=True)
            if found is not None:
                return found

    def read(self, op: str, serial: bool = False) -> tuple[str, Any] | None:
        params = (self.store, op)
        if serial:
            rows = self.cql.serial_read(_SELECT, params, "reading a decision")
        else:
            rows = self.cql.read(_SELECT, params, "reading a decision")
        if not rows:
            return None
        return str(rows[0]["state"]), loads(rows[0]["plan"], f"intent {op}")

    def decision(self, op: str, decide_abort: bool) -> str | None:
        """``op``'s decision; with ``decide_abort`` one is made (aborted) if none exists."""
        found = self.read(op, serial=decide_abort)
        if found is not None:
            return found[0]
        return self.decide(op, "aborted")[0] if decide_abort else None
