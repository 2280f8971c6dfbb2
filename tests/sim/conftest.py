"""A tiny real sweep, run once for the tests that read its results and its report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from berthing.cli.main import main

TINY_SWEEP = [
    "demo",
    "--sweep",
    "--hosts", "30",
    "--operations", "24",
    "--fills", "0.5,0.9",
    "--scheduler-counts", "1,2",
    "--arrivals", "bursty",
    "--repeats", "2",
    "--seed", "3",
]  # fmt: skip


@dataclass(frozen=True)
class Sweep:
    code: int
    results: dict[str, Any]
    report: Path


@pytest.fixture(scope="session")
def tiny_sweep(tmp_path_factory: pytest.TempPathFactory) -> Sweep:
    """2 fills x 2 scheduler counts x 2 repeats x 2 designs = 16 real runs."""
    out = tmp_path_factory.mktemp("sweep")
    code = main([*TINY_SWEEP, "--output", str(out)])
    results = json.loads((out / "results.json").read_text())
    return Sweep(code, results, out / "report.html")
