"""`berthing demo` at a small size, as CI runs it: the report is checked for content."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from berthing.cli.main import main
from tests.cassandra_fixtures import KEYSPACE


@pytest.mark.slow
def test_demo_runs_both_modes_and_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"
    code = main(
        [
            "demo",
            "--hosts",
            "40",
            "--requests",
            "250",
            "--schedulers",
            "2",
            "--failure-rate",
            "0.05",
            "--seed",
            "3",
            "--output",
            str(out),
        ]
    )
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert set(results["modes"]) == {"berthing", "classic"}
    for name, mode in results["modes"].items():
        assert mode["audit_problems"] == [], name
        assert mode["unfinished"] == 0, name
        assert mode["crashed_workers"] == [], name
        assert sum(mode["ops"].values()) == 250, name
        assert mode["placements"] > 100 and mode["placements_per_second"] > 0
        assert 0 < mode["latency_ms"]["p50"] <= mode["latency_ms"]["p99"]
        assert len(mode["latencies_ms"]) >= mode["placements"] * 0.5
        assert 0 < mode["utilization"]["VCPU"] < 1
        last = mode["timeline"][-1]
        assert last["placements"] == mode["placements"] and last["retries"] == mode["retries"]
    berthing, classic = results["modes"]["berthing"], results["modes"]["classic"]
    # The same seeded stream in both modes.
    assert berthing["ops"]["boot"] == classic["ops"]["boot"]
    # berthing claims before the build: no build ever fails for lack of room.
    assert berthing["race_failures"] == 0
    html = (out / "report.html").read_text()
    assert "classic" in html and "berthing" in html
    assert html.count("data:image/png;base64,") >= 3
    printed = capsys.readouterr().out
    assert "report.html" in printed and "results.json" in printed


@pytest.mark.slow
def test_demo_runs_on_the_etcd_cluster(tmp_path: Path, etcd_cluster: object) -> None:
    """The same main job on the real 3-member cluster the etcd tests start."""
    url = etcd_cluster.url("demo")  # type: ignore[attr-defined]
    out = tmp_path / "report"
    code = main(
        [
            "demo",
            "--store",
            url,
            "--hosts",
            "20",
            "--requests",
            "80",
            "--schedulers",
            "2",
            "--mode",
            "berthing",
            "--output",
            str(out),
        ]
    )
    assert code == 0
    mode = json.loads((out / "results.json").read_text())["modes"]["berthing"]
    assert mode["audit_problems"] == [] and mode["crashed_workers"] == []
    assert mode["placements"] > 40 and mode["unfinished"] == 0
    assert "/demo-<mode>-" in json.loads((out / "results.json").read_text())["settings"]["store"]


@pytest.mark.slow
def test_demo_runs_on_the_cassandra_cluster(tmp_path: Path, cassandra_cluster: object) -> None:
    """The same main job on the real 3-node cluster the Cassandra tests start."""
    url = cassandra_cluster.url(KEYSPACE)  # type: ignore[attr-defined]
    out = tmp_path / "report"
    argv = ["demo", "--store", url, "--hosts", "20", "--requests", "80", "--schedulers", "2"]
    code = main([*argv, "--mode", "berthing", "--output", str(out)])
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    mode = results["modes"]["berthing"]
    assert mode["audit_problems"] == [] and mode["crashed_workers"] == []
    assert mode["placements"] > 40 and mode["unfinished"] == 0
    assert f"/{KEYSPACE}/demo-<mode>-" in results["settings"]["store"]
