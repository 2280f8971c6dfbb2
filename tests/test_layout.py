"""The package's shape, pinned: what each package exports, and that imports go one way.

A change to a public name or to the layering shows up here as a deliberate edit, not
as an accident (httpx's test_exported_members does the same for its surface).
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import berthing

PUBLIC = {
    "berthing.store": {
        "Capability",
        "NewParent",
        "RecordStore",
        "ResourceStore",
        "Store",
        "default_store_url",
        "open_store",
        "register_backend",
    },
    "berthing.scheduler": {
        "CandidateSource",
        "Claim",
        "ClaimStrategy",
        "Context",
        "Explanation",
        "LatencyHistogram",
        "NoValidHost",
        "Reason",
        "Scheduler",
        "SchedulerConfig",
        "SchedulerMetrics",
        "Selection",
        "StoreCandidates",
        "StoreClaims",
        "create_group",
        "define_zone",
        "leave_group",
        "load_config",
        "load_group",
        "zone_aggregate",
    },
    "berthing.agent": {"Agent", "Builder", "HostDescription"},
    "berthing.conductor": {"Conductor", "ConductorStats", "set_disabled"},
    "berthing.runtime": {"Every", "Liveness", "StopSignal", "retry_conflicts", "stop_on_signals"},
    "berthing.cli": {"main"},
}

# Lower layers never import higher ones; packages on one layer never import each other.
LAYER = {
    "model": 0,
    "runtime": 1,
    "devtools": 1,
    "store": 2,
    "engine": 3,
    "scheduler": 4,
    "agent": 5,
    "conductor": 5,
    "sim": 6,
    "api": 6,
    "service": 7,
    "cli": 9,
}


def packages() -> list[str]:
    found = [m.name for m in pkgutil.walk_packages(berthing.__path__, "berthing.") if m.ispkg]
    return sorted(found)


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_names_are_pinned(name: str) -> None:
    module = importlib.import_module(name)
    assert set(module.__all__) == PUBLIC[name]
    for exported in module.__all__:
        assert hasattr(module, exported), f"{name} exports {exported} but has no such name"


def test_model_exports_only_what_it_has() -> None:
    import berthing.model as model

    assert len(model.__all__) == len(set(model.__all__))
    missing = [n for n in model.__all__ if not hasattr(model, n)]
    assert missing == []


@pytest.mark.parametrize("name", packages())
def test_every_package_declares_its_surface(name: str) -> None:
    assert isinstance(importlib.import_module(name).__all__, list)


def _imports(path: Path) -> set[str]:
    """Top-level berthing packages a module imports (at run time or for typing)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {n.split(".")[1] for n in names if n.startswith("berthing.")}
    return found


def test_imports_go_one_way() -> None:
    root = Path(berthing.__file__).parent
    wrong = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts
        if len(parts) < 2:
            continue
        own = parts[0]
        for other in _imports(path) - {own}:
            if LAYER.get(other, 99) >= LAYER[own]:
                wrong.append(f"{path.relative_to(root)} imports berthing.{other}")
    assert wrong == []


def test_functions_stay_short() -> None:
    """Short functions read like the pipeline they are part of: none over 50 lines, and
    the median under 10 (the house rule of issue 8)."""
    sizes: dict[str, int] = {}
    for path in Path(berthing.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                sizes[f"{path}:{node.lineno} {node.name}"] = node.end_lineno - node.lineno + 1
    assert {where: n for where, n in sizes.items() if n > 50} == {}
    ordered = sorted(sizes.values())
    assert ordered[len(ordered) // 2] < 10
