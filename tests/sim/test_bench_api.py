"""``berthing bench api``, tiny: the report's shape, never its speed.

Against berthing alone in CI; side by side with the real Placement 16.0 only with
``BERTHING_PLACEMENT_PEER=1`` (the peer is installed on first use into a cache:
minutes), as tests/api/placement/test_osc_commands.py gates it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from berthing.cli.main import main
from berthing.sim.bench.api import TargetResult, table

PEER_OPT_IN = "BERTHING_PLACEMENT_PEER"
QUERIES = {"limit=10", "limit=1000", "nested"}


def _run(tmp_path: Path, *extra: str) -> dict[str, Any]:
    out = tmp_path / "api.json"
    argv = ["bench", "api", "--sizes", "40", "--clients", "1,2", "--samples", "3"]
    argv += ["--placements", "3", "--workdir", str(tmp_path), "--output", str(out), *extra]
    assert main(argv) == 0
    document: dict[str, Any] = json.loads(out.read_text())
    return document


def _check_target(r: dict[str, Any], name: str) -> None:
    assert (r["target"], r["providers"]) == (name, 40)
    assert r["register_per_s"] > 0 and r["register_s"] > 0
    assert set(r["latency_ms"]) == QUERIES
    for label, figures in r["latency_ms"].items():
        assert 0 < figures["p50"] <= figures["p99"], label
        assert figures["samples"] == 3, label
    # 40 lone providers; the nested query's answers are the GPU trees' (limit 10).
    assert r["latency_ms"]["limit=1000"]["candidates"] == 40
    assert r["latency_ms"]["nested"]["candidates"] == 10
    assert set(r["placements_per_s"]) == {"1", "2"}  # JSON keys
    assert all(rate > 0 for rate in r["placements_per_s"].values())
    assert r["placed"] == {"1": 3, "2": 6}
    assert all(0 < ms["p50"] <= ms["p99"] for ms in r["placement_ms"].values())
    assert len(r["load"]) == 2


@pytest.mark.slow
def test_berthing_only_report(tmp_path: Path) -> None:
    report = _run(tmp_path, "--no-peer")
    [berthing] = report["results"]
    _check_target(berthing, "berthing")
    assert report["command"].endswith("--no-peer")
    assert "--sizes 40 --clients 1,2 --samples 3 --placements 3 --seconds 300" in report["command"]
    assert report["machine"]["cores"] >= 1


def test_table_puts_ratios_where_both_targets_ran() -> None:
    def result(target: str, scale: float) -> TargetResult:
        ms = {q: {"p50": 10 * scale, "p99": 20 * scale} for q in QUERIES}
        return TargetResult(
            target, 100, 50 / scale, ms, {1: 20 / scale, 4: 40 / scale}, load=[1.0, 1.0]
        )

    rows = table([result("berthing", 1), result("placement", 100)])
    assert [r[1] for r in rows][:2] == ["registration /s", "candidates limit=10 p50 ms"]
    assert {r[4] for r in rows} == {"100.0x"}
    [only] = {tuple(r[4] for r in table([result("berthing", 1)]))}
    assert set(only) == {"-"}


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get(PEER_OPT_IN) != "1",
    reason=f"{PEER_OPT_IN}=1 runs the benchmark against the real Placement (installs it)",
)
def test_side_by_side_with_real_placement(tmp_path: Path) -> None:
    report = _run(tmp_path)
    berthing, placement = report["results"]
    _check_target(berthing, "berthing")
    _check_target(placement, "placement")
