"""The spec runner itself, without a server: matchers, paths, substitution, and that
every spec file is well formed (so a typo in a key fails here, not silently)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.placement.matchers import mismatches, parse_spec
from tests.api.placement.runner import _MISSING, Context, SpecError, check_file, resolve
from tests.api.placement.test_spec import FILES


def _expect(text: str) -> object:
    return parse_spec(text)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_spec_file_is_well_formed(path: Path) -> None:
    assert check_file(path) > 0


def test_plain_values_must_match_exactly() -> None:
    assert mismatches({"a": 1}, {"a": 1}) == []
    assert mismatches({"a": 1}, {"a": 1, "b": 2})
    assert mismatches([1, 2], [2, 1])
    assert mismatches(True, 1)
    assert mismatches(1.0, 1) == []


def test_matchers() -> None:
    expected = _expect(
        "a: !re ^x\nb: !any\nc: !absent\nd: !len 2\ne: !type int\n"
        "f: !unordered [1, 2]\ng: !contains [3]\nh: !contains {k: 1}\ni: !excludes [9]\n"
    )
    actual = {"a": "xy", "b": None, "d": [0, 0], "e": 3, "f": [2, 1], "g": [3, 4],
              "h": {"k": 1, "j": 2}, "i": [1]}  # fmt: skip
    assert mismatches(expected, actual) == []
    assert mismatches(expected, actual | {"c": 1})
    assert mismatches(expected, actual | {"f": [1, 1]})
    assert mismatches(expected, actual | {"i": [9]})


def test_unordered_nests_matchers() -> None:
    expected = _expect("!unordered [!contains {u: a}, !contains {u: b}]")
    assert mismatches(expected, [{"u": "b", "x": 1}, {"u": "a"}]) == []
    assert mismatches(expected, [{"u": "a"}, {"u": "a"}])


def test_resolve_paths() -> None:
    doc = {"a": {"b c": [{"d": 1}]}, "x.y": 2}
    assert resolve(doc, '$.a["b c"][0].d') == 1
    assert resolve(doc, "$['x.y']") == 2
    assert resolve(doc, "$.a.nope") is _MISSING
    assert resolve(doc, '$.a["b c"][5]') is _MISSING


def test_substitution() -> None:
    ctx = Context()
    ctx.vars["gen"] = 3
    step = ctx.substitute({"$uuid.a": ["$uuid.a", "$var.gen", "g$var.gen", "CUSTOM_$tag_X"]})
    [(key, value)] = step.items()
    assert value[0] == key and value[1] == 3 and value[2] == "g3"
    assert value[3] == f"CUSTOM_{ctx.tag}_X"
    with pytest.raises(SpecError):
        ctx.substitute("$var.unknown")
