"""Who may call what: rules in oslo.policy's check language, as Placement writes them.

A rule is a check string: ``role:admin``, ``project_id:%(project_id)s``,
``rule:other``, ``@`` (always), ``!`` (never), joined with ``and``/``or``/``not`` and
parentheses. Placement's defaults come in two sets (``legacy``: administrators do
everything; ``secure-rbac``: readers read, administrators write), and a policy file
(YAML or JSON, ``rule: check``) overrides any of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path

import yaml

from berthing.api.auth import Identity
from berthing.model import InvalidInput

__all__ = ["DEFAULTS", "Policy", "load_policy_file"]

_BASE = {
    "admin_api": "role:admin",
    "service_api": "role:service",
    "reader_api": "role:reader or role:member or role:admin",
    "project_member_api": "role:admin or (role:member and project_id:%(project_id)s)",
    "project_reader_api": "rule:project_member_api or (role:reader and project_id:%(project_id)s)",
}
_PLACEMENT_READS = (
    "placement:resource_providers:list",
    "placement:resource_providers:show",
    "placement:resource_providers:inventories:list",
    "placement:resource_providers:inventories:show",
    "placement:resource_providers:aggregates:list",
    "placement:resource_providers:usages",
    "placement:resource_providers:allocations:list",
    "placement:resource_providers:traits:list",
    "placement:resource_classes:list",
    "placement:resource_classes:show",
    "placement:traits:list",
    "placement:traits:show",
    "placement:allocations:list",
    "placement:allocation_candidates:list",
    "placement:usages",
)


def _defaults(read: str) -> dict[str, str]:
    rules = dict(_BASE)
    rules.update({name: read for name in _PLACEMENT_READS})
    rules["placement:default"] = "rule:admin_api"
    # Placement lets only the service role (Nova, with its service token) reshape.
    rules["placement:reshaper:reshape"] = "rule:service_api"
    return rules


DEFAULTS: Mapping[str, Mapping[str, str]] = {
    "legacy": _defaults("rule:admin_api"),
    "secure-rbac": _defaults("rule:admin_api or role:reader"),
}


class Policy:
    def __init__(
        self, defaults: str = "legacy", overrides: Mapping[str, str] | None = None
    ) -> None:
        if defaults not in DEFAULTS:
            raise InvalidInput(
                f"Unknown policy defaults {defaults!r}.", hint=f"Use one of {', '.join(DEFAULTS)}."
            )
        self.rules = {**DEFAULTS[defaults], **(overrides or {})}
        for name, check in self.rules.items():
            _Parser(check, name).parse()  # a typo is found at start, not on a request

    def allows(self, rule: str, who: Identity, target: Mapping[str, str] | None = None) -> bool:
        check = self.rules.get(rule, self.rules["placement:default"])
        return self._eval(check, who, dict(target or {}), depth=0)

    def _eval(self, check: str, who: Identity, target: dict[str, str], depth: int) -> bool:
        if depth > 10:
            raise InvalidInput(f"Policy rules refer to each other in a loop at {check!r}.")
        tree = _Parser(check, check).parse()
        return _evaluate(tree, lambda term: self._term(term, who, target, depth))

    def _term(self, term: str, who: Identity, target: dict[str, str], depth: int) -> bool:
        if term == "@":
            return True
        if term == "!":
            return False
        kind, _, value = term.partition(":")
        if kind == "rule":
            return self._eval(self.rules.get(value, "!"), who, target, depth + 1)
        if kind == "role":
            return value in who.roles
        if kind == "project_id":
            wanted = value % target if "%(" in value else value
            return bool(who.project_id) and who.project_id == wanted
        return False


def load_policy_file(path: str | Path) -> dict[str, str]:
    """Rule overrides from a YAML or JSON file (``rule: check``)."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInput(f"Cannot read policy file {path}: {exc}.") from exc
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise InvalidInput(f"Policy file {path} must map rule names to check strings.")
    return {str(k): v for k, v in data.items()}


# -- the check language ------------------------------------------------------------------

Tree = str | tuple[str, "Tree", "Tree"] | tuple[str, "Tree"]
# A term may hold ``%(name)s`` substitutions, whose parentheses are not grouping.
_TOKEN = re.compile(r"\s*((?:%\(\w+\)s|[^\s()])+|\(|\))")


class _Parser:
    """``or`` binds loosest, then ``and``, then ``not``."""

    def __init__(self, text: str, name: str) -> None:
        self.tokens = _TOKEN.findall(text.strip())
        self.name = name
        self.at = 0

    def parse(self) -> Tree:
        if not self.tokens:
            return "@"  # an empty rule allows, as in oslo.policy
        tree = self._or()
        if self.at != len(self.tokens):
            raise InvalidInput(
                f"Policy rule {self.name!r} has an unexpected {self.tokens[self.at]!r}."
            )
        return tree

    def _or(self) -> Tree:
        tree = self._and()
        while self._next_is("or"):
            tree = ("or", tree, self._and())
        return tree

    def _and(self) -> Tree:
        tree = self._not()
        while self._next_is("and"):
            tree = ("and", tree, self._not())
        return tree

    def _not(self) -> Tree:
        if self._next_is("not"):
            return ("not", self._not())
        if self._next_is("("):
            tree = self._or()
            if not self._next_is(")"):
                raise InvalidInput(f"Policy rule {self.name!r} misses a ')'.")
            return tree
        if self.at >= len(self.tokens):
            raise InvalidInput(f"Policy rule {self.name!r} ends too early.")
        self.at += 1
        return str(self.tokens[self.at - 1])

    def _next_is(self, word: str) -> bool:
        if self.at < len(self.tokens) and self.tokens[self.at] == word:
            self.at += 1
            return True
        return False


def _evaluate(tree: Tree, term: Callable[[str], bool]) -> bool:
    if isinstance(tree, str):
        return term(tree)
    if len(tree) == 2:
        return not _evaluate(tree[1], term)
    op, left, right = tree
    if op == "and":
        return _evaluate(left, term) and _evaluate(right, term)
    return _evaluate(left, term) or _evaluate(right, term)
