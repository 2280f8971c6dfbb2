"""Expected values of the spec files, and matching them against responses.

A plain YAML value must equal the response exactly: a mapping has exactly its keys, a
list has exactly its items in order. Tagged values loosen that where the API promises
less than an exact value (an order, a generated id, other files' data on a shared
server):

  !re PATTERN        a string that PATTERN matches (re.search; anchor it yourself)
  !any               present, any value
  !absent            not present (as a mapping value or a response_json_paths target)
  !len N             a list, mapping or string of length N
  !type NAME         a value of JSON type NAME: int, float, number, str, bool, null, list, dict
  !unordered [..]    a list with exactly these items, in any order
  !contains [..]     a list holding items matching each of these (others allowed)
  !contains {..}     a mapping with these keys matching (others allowed)
  !contains TEXT     a string containing TEXT
  !excludes [..]     a list holding no item matching any of these
  !excludes TEXT     a string not containing TEXT

Matchers nest: `!unordered [{a: !re '^x'}]` is fine.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Absent", "Matcher", "load_spec", "mismatches", "parse_spec"]


class Matcher:
    """A loosened expectation; `check` returns what is wrong, empty when it matches."""

    def check(self, actual: Any, where: str) -> list[str]:
        raise NotImplementedError


@dataclass(frozen=True)
class Regex(Matcher):
    pattern: str

    def check(self, actual: Any, where: str) -> list[str]:
        if isinstance(actual, str) and re.search(self.pattern, actual):
            return []
        return [f"{where}: {actual!r} does not match /{self.pattern}/"]


@dataclass(frozen=True)
class Any_(Matcher):
    def check(self, actual: Any, where: str) -> list[str]:
        return []


@dataclass(frozen=True)
class Absent(Matcher):
    """Only meaningful where a key may be missing; a present value never matches it."""

    def check(self, actual: Any, where: str) -> list[str]:
        return [f"{where}: expected absent, got {actual!r}"]


@dataclass(frozen=True)
class Length(Matcher):
    n: int

    def check(self, actual: Any, where: str) -> list[str]:
        if isinstance(actual, list | dict | str) and len(actual) == self.n:
            return []
        return [f"{where}: expected length {self.n}, got {actual!r}"]


_TYPES: dict[str, Callable[[Any], bool]] = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, float),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "list": lambda v: isinstance(v, list),
    "dict": lambda v: isinstance(v, dict),
}


@dataclass(frozen=True)
class Type(Matcher):
    name: str

    def check(self, actual: Any, where: str) -> list[str]:
        if _TYPES[self.name](actual):
            return []
        return [f"{where}: expected a {self.name}, got {actual!r}"]


@dataclass(frozen=True)
class Unordered(Matcher):
    items: list[Any]

    def check(self, actual: Any, where: str) -> list[str]:
        if not isinstance(actual, list) or len(actual) != len(self.items):
            return [f"{where}: expected {len(self.items)} items in any order, got {actual!r}"]
        if _assign(self.items, actual, where):
            return []
        return [f"{where}: items {actual!r} do not match {self.items!r} in any order"]


@dataclass(frozen=True)
class Contains(Matcher):
    part: Any

    def check(self, actual: Any, where: str) -> list[str]:
        if isinstance(self.part, str):
            ok = isinstance(actual, str) and self.part in actual
            return [] if ok else [f"{where}: {actual!r} does not contain {self.part!r}"]
        if isinstance(self.part, dict):
            if not isinstance(actual, dict):
                return [f"{where}: expected a mapping, got {actual!r}"]
            return _match_keys(self.part, actual, where, exact=False)
        if not isinstance(actual, list):
            return [f"{where}: expected a list, got {actual!r}"]
        missing = [e for e in self.part if not any(_fits(e, a, where) for a in actual)]
        return [f"{where}: no item matches {e!r} in {actual!r}" for e in missing]


@dataclass(frozen=True)
class Excludes(Matcher):
    part: Any

    def check(self, actual: Any, where: str) -> list[str]:
        if isinstance(self.part, str):
            ok = isinstance(actual, str) and self.part not in actual
            return [] if ok else [f"{where}: {actual!r} contains {self.part!r}"]
        if not isinstance(actual, list):
            return [f"{where}: expected a list, got {actual!r}"]
        found = [a for a in actual if any(_fits(e, a, where) for e in self.part)]
        return [f"{where}: unexpected items {found!r}"] if found else []


def _fits(expected: Any, actual: Any, where: str) -> bool:
    return not mismatches(expected, actual, where)


def _assign(expected: list[Any], actual: list[Any], where: str) -> bool:
    """Whether the expected items can be paired one to one with the actual ones
    (backtracking: lists in a spec are short)."""
    if not expected:
        return True
    head, rest = expected[0], expected[1:]
    for i, a in enumerate(actual):
        if _fits(head, a, where) and _assign(rest, actual[:i] + actual[i + 1 :], where):
            return True
    return False


def _match_keys(
    expected: dict[Any, Any], actual: dict[Any, Any], where: str, exact: bool
) -> list[str]:
    errors: list[str] = []
    for key, value in expected.items():
        here = f"{where}.{key}"
        if key not in actual:
            if not isinstance(value, Absent):
                errors.append(f"{here}: missing")
        else:
            errors += mismatches(value, actual[key], here)
    if exact:
        extra = sorted(str(k) for k in actual if k not in expected)
        errors += [f"{where}: unexpected keys {extra}"] if extra else []
    return errors


def mismatches(expected: Any, actual: Any, where: str = "$") -> list[str]:
    """Everything about `actual` that `expected` does not accept, as readable lines."""
    if isinstance(expected, Matcher):
        return expected.check(actual, where)
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected a mapping, got {actual!r}"]
        return _match_keys(expected, actual, where, exact=True)
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{where}: expected {expected!r}, got {actual!r}"]
        return [
            m
            for i, (e, a) in enumerate(zip(expected, actual, strict=True))
            for m in mismatches(e, a, f"{where}[{i}]")
        ]
    # bool is an int in Python; JSON true must not equal 1.
    if isinstance(expected, bool) != isinstance(actual, bool) or expected != actual:
        return [f"{where}: expected {expected!r}, got {actual!r}"]
    return []


# The C loader when PyYAML has libyaml: the pure-Python one takes seconds on the big files.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):  # type: ignore[misc,valid-type]
    """The safe loader (no arbitrary objects) plus the matcher tags."""


def _scalar(make: Callable[[str], Matcher]) -> Callable[[yaml.Loader, yaml.Node], Matcher]:
    def construct(loader: yaml.Loader, node: yaml.Node) -> Matcher:
        return make(loader.construct_scalar(node))  # type: ignore[arg-type]

    return construct


def _any_node(make: Callable[[Any], Matcher]) -> Callable[[yaml.Loader, yaml.Node], Matcher]:
    def construct(loader: yaml.Loader, node: yaml.Node) -> Matcher:
        if isinstance(node, yaml.SequenceNode):
            return make(loader.construct_sequence(node, deep=True))
        if isinstance(node, yaml.MappingNode):
            return make(loader.construct_mapping(node, deep=True))
        return make(loader.construct_scalar(node))  # type: ignore[arg-type]

    return construct


_loader_tags: dict[str, Callable[[yaml.Loader, yaml.Node], Matcher]] = {
    "!re": _scalar(Regex),
    "!any": _scalar(lambda _: Any_()),
    "!absent": _scalar(lambda _: Absent()),
    "!len": _scalar(lambda s: Length(int(s))),
    "!type": _scalar(Type),
    "!unordered": _any_node(Unordered),
    "!contains": _any_node(Contains),
    "!excludes": _any_node(Excludes),
}
for _tag, _construct in _loader_tags.items():
    _Loader.add_constructor(_tag, _construct)


def parse_spec(text: str) -> Any:
    """Parse spec YAML with the matcher tags."""
    return yaml.load(text, Loader=_Loader)


def load_spec(path: Path) -> Any:
    """Parse one spec file."""
    return parse_spec(path.read_text())
