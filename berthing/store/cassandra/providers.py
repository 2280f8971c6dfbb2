"""Provider writes: create, rename, move, delete, inventories, traits, aggregates.

Each is one LWT on the provider's partition (``partition.Partitions.write``), with the
rows of other partitions it depends on written first so that a crash in between leaves
only a reservation that the next writer recognises as unused: a name reserved
(``pnames``), a child entered in its parent's partition, a provider entered as a user
of a custom class or trait. Moving a subtree changes several providers at once and
goes through the same freeze-and-commit protocol as a multi-provider claim.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from berthing.model import (
    DuplicateName,
    GenerationConflict,
    InvalidInput,
    Inventory,
    Provider,
    ProviderHasChildren,
    ProviderInUse,
    ProviderNotFound,
    is_custom,
    refuse_shrink_below_use,
)
from berthing.store.cassandra.claims import Claims, new_op
from berthing.store.cassandra.layout import PState
from berthing.store.cassandra.names import Names, ProviderNames
from berthing.store.cassandra.partition import Partitions, Plan
from berthing.store.resources import NewParent
from berthing.store.sampling import new_rank

__all__ = ["Providers"]


class Providers:
    def __init__(
        self, partitions: Partitions, names: Names, pnames: ProviderNames, claims: Claims
    ) -> None:
        self.partitions, self.names, self.pnames, self.claims = partitions, names, pnames, claims

    # -- create -----------------------------------------------------------------------------

    def create(self, name: str, uuid: str, parent: str | None) -> Provider:
        op = new_op()
        if not self.pnames.reserve(name, uuid, op, lambda holder: self._named(holder, name)):
            raise DuplicateName.provider("name", name)
        try:
            root = uuid if parent is None else self._adopt(parent, uuid, op)
            build = _creation(uuid, name, parent, root)
            plan = self.partitions.write(uuid, op, "creating a provider", build)
        except BaseException:
            self._undo_create(name, uuid, parent, op)
            raise
        assert plan.new is not None
        return plan.new.provider

    def _named(self, uuid: str, name: str) -> bool:
        state = self.partitions.read(uuid)
        return state is not None and state.name == name

    def _adopt(self, parent: str, child: str, op: str) -> str:
        """Enter ``child`` in its parent's partition first; the root of the tree."""

        def build(state: PState | None, version: int) -> Plan[str]:
            if state is None:
                raise InvalidInput(
                    f"Parent provider {parent} does not exist.", hint="Create the parent first."
                )
            return Plan(state.moved(version, children=state.children | {child}), state.root)

        return self.partitions.write(parent, op, "adding a child", build).value

    def _undo_create(self, name: str, uuid: str, parent: str | None, op: str) -> None:
        state = self.partitions.read(uuid)
        if state is not None and state.name == name:
            return  # another provider of that uuid exists: its name stays
        self.pnames.release(name, uuid)
        if parent is not None:
            self._disown(parent, uuid)

    def _disown(self, parent: str, child: str) -> None:
        def build(state: PState | None, version: int) -> Plan[None]:
            if state is None or child not in state.children:
                return Plan(state, None, write=False)
            return Plan(state.moved(version, children=state.children - {child}), None)

        self.partitions.write(parent, new_op(), "removing a child", build)

    # -- update -----------------------------------------------------------------------------

    def update(self, uuid: str, name: str | None, parent: NewParent | None) -> Provider:
        state = self.partitions.read(uuid)
        if state is None:
            raise ProviderNotFound(uuid)
        if name is not None and name != state.name:
            state = self._rename(state, name)
        if parent is not None:
            state = self._move(state, parent.uuid)
        return state.provider

    def _rename(self, state: PState, name: str) -> PState:
        op, uuid = new_op(), state.uuid
        if not self.pnames.reserve(name, uuid, op, lambda holder: self._named(holder, name)):
            raise DuplicateName.rename(name)

        def build(current: PState | None, version: int) -> Plan[str]:
            if current is None:
                raise ProviderNotFound(uuid)
            return Plan(current.moved(version, name=name), current.name)

        try:
            plan = self.partitions.write(uuid, op, "renaming a provider", build)
        except BaseException:
            self.pnames.release(name, uuid)
            raise
        self.pnames.release(plan.value, uuid)
        assert plan.new is not None
        return plan.new

    def _move(self, state: PState, to: str | None) -> PState:
        """Move ``state`` and its subtree under ``to`` (None: make it a root), all at once."""
        subtree = self._subtree(state.uuid)
        if to is not None and to in subtree:
            raise InvalidInput(
                f"Provider {state.uuid} cannot move under {to}, which is in its own subtree.",
                hint="Move the descendant out first, or choose another parent.",
            )
        involved = subtree | {p for p in (state.parent, to) if p is not None}
        moved = self.claims.transact(sorted(involved), lambda s: _moved(s, state.uuid, to, subtree))
        return moved[state.uuid]

    def _subtree(self, uuid: str) -> set[str]:
        found, todo = {uuid}, [uuid]
        while todo:
            state = self.partitions.read(todo.pop())
            for child in sorted(state.children if state else ()):
                if child not in found:
                    found.add(child)
                    todo.append(child)
        return found

    # -- delete -----------------------------------------------------------------------------

    def delete(self, uuid: str) -> None:
        op = new_op()

        def build(state: PState | None, version: int) -> Plan[PState]:
            if state is None:
                raise ProviderNotFound(uuid)
            if any(self._is_child(c, uuid) for c in sorted(state.children)):
                raise ProviderHasChildren(uuid)
            if any(state.used.values()) or self.partitions.allocations(uuid):
                raise ProviderInUse(uuid)
            return Plan(None, state)

        old = self.partitions.write(uuid, op, "deleting a provider", build).value
        self.pnames.release(old.name, uuid)
        if old.parent is not None:
            self._disown(old.parent, uuid)
        for rc in filter(is_custom, old.inventories):
            self.names.remove_user("class", rc, uuid)
        for trait in filter(is_custom, old.traits):
            self.names.remove_user("trait", trait, uuid)

    def _is_child(self, child: str, parent: str) -> bool:
        state = self.partitions.read(child)
        return state is not None and state.parent == parent

    # -- inventories, traits, aggregates ------------------------------------------------------

    def set_inventories(
        self, uuid: str, generation: int, inventories: Mapping[str, Inventory], below_use: bool
    ) -> Provider:
        current = self._at(uuid, generation)
        self._use(
            "class", sorted(set(filter(is_custom, inventories)) - set(current.inventories)), uuid
        )

        def build(state: PState | None, version: int) -> Plan[PState]:
            old = _check(state, uuid, generation)
            refuse_shrink_below_use(uuid, old.used, inventories, below_use)
            return Plan(_bump(old, version, inventories=dict(inventories)), old)

        plan = self.partitions.write(uuid, new_op(), "setting inventories", build)
        self._unuse("class", set(plan.value.inventories) - set(inventories), uuid)
        assert plan.new is not None
        return plan.new.provider

    def set_traits(self, uuid: str, generation: int, traits: list[str]) -> Provider:
        current = self._at(uuid, generation)
        self._use("trait", sorted(set(filter(is_custom, traits)) - current.traits), uuid)

        def build(state: PState | None, version: int) -> Plan[PState]:
            old = _check(state, uuid, generation)
            return Plan(_bump(old, version, traits=frozenset(traits)), old)

        plan = self.partitions.write(uuid, new_op(), "setting traits", build)
        self._unuse("trait", plan.value.traits - set(traits), uuid)
        assert plan.new is not None
        return plan.new.provider

    def set_aggregates(
        self, uuid: str, generation: int, aggregates: list[str], bump: bool
    ) -> Provider:
        def build(state: PState | None, version: int) -> Plan[None]:
            old = _check(state, uuid, generation)
            if bump:
                return Plan(_bump(old, version, aggregates=frozenset(aggregates)), None)
            return Plan(old.moved(version, aggregates=frozenset(aggregates)), None)

        plan = self.partitions.write(uuid, new_op(), "setting aggregates", build)
        assert plan.new is not None
        return plan.new.provider

    def _at(self, uuid: str, generation: int) -> PState:
        return _check(self.partitions.read(uuid), uuid, generation)

    def _use(self, kind: str, names: list[str], uuid: str) -> None:
        for name in names:
            self.names.add_user(kind, name, uuid)

    def _unuse(self, kind: str, names: Iterable[str], uuid: str) -> None:
        for name in sorted(filter(is_custom, names)):
            self.names.remove_user(kind, name, uuid)


def _creation(
    uuid: str, name: str, parent: str | None, root: str
) -> Callable[[PState | None, int], Plan[None]]:
    shuffle = new_rank()

    def build(state: PState | None, version: int) -> Plan[None]:
        if state is not None:
            raise DuplicateName.provider("uuid", uuid)
        fresh = PState(uuid, version, 0, name, parent, root, shuffle=shuffle, created=version)
        return Plan(fresh, None)

    return build


def _check(state: PState | None, uuid: str, generation: int) -> PState:
    if state is None:
        raise ProviderNotFound(uuid)
    if state.generation != generation:
        raise GenerationConflict("Resource provider", uuid, generation, state.generation)
    return state


def _bump(state: PState, version: int, **changes: object) -> PState:
    return state.moved(version, generation=state.generation + 1, **changes)


def _moved(
    states: Mapping[str, PState | None], uuid: str, to: str | None, subtree: set[str]
) -> dict[str, PState]:
    """The new states of a subtree move, decided on frozen ``states``."""
    me = states.get(uuid)
    if me is None:
        raise ProviderNotFound(uuid)
    target = None if to is None else states.get(to)
    if to is not None and target is None:
        raise InvalidInput(f"Parent provider {to} does not exist.", hint="Create it first.")
    root = uuid if target is None else target.root
    out = {u: s for u, s in states.items() if s is not None}
    for u in subtree:
        if u in out:
            out[u] = out[u].moved(out[u].version, root=root)
    out[uuid] = out[uuid].moved(out[uuid].version, parent=to)
    if me.parent is not None and me.parent in out:
        old = out[me.parent]
        out[me.parent] = old.moved(old.version, children=old.children - {uuid})
    if to is not None:
        new = out[to]
        out[to] = new.moved(new.version, children=new.children | {uuid})
    return out
