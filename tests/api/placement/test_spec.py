"""The Placement HTTP API specification: every spec/*.yaml file, run against the server
at the `placement_url` fixture. Each file is self-contained (its own providers, fresh
uuids and names), so files run in any order against one shared server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.placement.runner import run_file

SPEC_DIR = Path(__file__).parent / "spec"
FILES = sorted(SPEC_DIR.glob("*.yaml"))


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_spec(path: Path, placement_url: str) -> None:
    steps = run_file(path, placement_url)
    assert steps > 0
