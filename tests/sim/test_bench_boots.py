"""``berthing bench boots``, tiny: the report's shape, never its speed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from berthing.cli.main import main
from berthing.sim.bench.boots import COLUMNS, BootsRow, table


@pytest.mark.slow
def test_report_has_both_sides_and_their_ratio(tmp_path: Path) -> None:
    out = tmp_path / "boots.json"
    argv = ["bench", "boots", "--hosts", "30", "--clients", "1,2", "--boots", "3"]
    assert main([*argv, "--workdir", str(tmp_path), "--output", str(out)]) == 0
    report = json.loads(out.read_text())
    assert [r["clients"] for r in report["rows"]] == [1, 2]
    for r in report["rows"]:
        assert r["boots"] == 3 * r["clients"] and r["failed"] == 0
        assert r["no_valid_host"] == 0 and r["in_process_conflicts"] >= 0
        assert r["api_per_s"] > 0 and r["in_process_per_s"] > 0
        assert 0 < r["api_ms"]["p50"] <= r["api_ms"]["p99"]
        assert 0 < r["in_process_ms"]["p50"] <= r["in_process_ms"]["p99"]
        assert r["overhead"] == pytest.approx(r["in_process_per_s"] / r["api_per_s"], rel=0.1)
        assert len(r["load"]) == 2
    assert report["command"].startswith("berthing bench boots --hosts 30 --clients 1,2")
    assert "--boots 3" in report["command"]


def test_table_has_a_cell_per_column() -> None:
    api_ms, local_ms = {"p50": 60.0, "p99": 90.0}, {"p50": 5.0, "p99": 9.0}
    row = BootsRow(4, 400, 50.0, api_ms, 0, 500.0, local_ms, 0, 0, 10.0)
    [line] = table([row])
    assert len(line) == len(COLUMNS)
    assert line[COLUMNS.index("API overhead")] == "10.0x"
