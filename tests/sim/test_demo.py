"""``berthing demo`` for real, at a small size: the default demo and a tiny sweep."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from berthing.cli.main import main
from berthing.sim.demo import DEFAULT_POINT
from berthing.sim.stats import METRICS
from tests.cassandra_fixtures import KEYSPACE
from tests.sim.conftest import Sweep


def _check_run(run: dict) -> None:  # type: ignore[type-arg]
    name = f"{run['design']} {run['point']} seed {run['seed']}"
    assert run["audit_problems"] == [], name
    assert run["unfinished"] == 0, name
    assert sum(run["ops"].values()) == 24, name
    assert run["placements"] > 0 and run["placements_per_s"] > 0, name
    assert 0 < run["latency_p50_ms"] <= run["latency_p99_ms"], name
    assert run["fill_start"] >= run["point"]["fill"], name
    if run["design"] == "berthing":
        # Claimed before the build: no build ever fails for lack of room.
        assert run["race_failures"] == 0, name
        assert run["claims_per_placement"] >= 1 and run["queries_per_placement"] >= 1, name
    else:
        assert run["retries"] == 0, name  # nothing is claimed in the scheduler


@pytest.mark.slow
def test_default_demo_prints_verdicts_and_the_workload(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"
    args = ["demo", "--hosts", "30", "--operations", "24", "--repeats", "2", "--seed", "5"]
    assert main([*args, "--fill", "0.8", "--schedulers", "2", "--output", str(out)]) == 0
    printed = " ".join(capsys.readouterr().out.split())  # as if the terminal were wide
    results = json.loads((out / "results.json").read_text())
    [point] = results["points"]
    assert (point["fill"], point["schedulers"]) == (0.8, 2)
    assert point["arrivals"] == DEFAULT_POINT.arrivals
    assert len(results["runs"]) == 4
    for run in results["runs"]:
        _check_run(run)
    for metric in METRICS:
        if metric.key_metric:
            assert metric.label in printed
            assert point["summary"][metric.key]["verdict_text"][:12] in printed
    [stream] = results["streams"]  # repeats 2: seed 5, then seed 5 again
    assert f"stream {stream['sha256'][:16]}" in printed
    assert "what differs between its runs is how the operating system" in printed
    assert (out / "report.html").exists()


@pytest.mark.slow
def test_tiny_sweep_measures_every_point_with_repeats(tiny_sweep: Sweep) -> None:
    assert tiny_sweep.code == 0
    results = tiny_sweep.results
    assert len(results["points"]) == 4 and len(results["runs"]) == 16
    for run in results["runs"]:
        _check_run(run)
    by_seed: dict[tuple[int, float], set[tuple[str, str]]] = {}
    for run in results["runs"]:
        key = (run["seed"], run["point"]["fill"])
        by_seed.setdefault(key, set()).add((run["cloud_sha256"], run["stream_sha256"]))
    # Every run of one seed and fill, either design, any scheduler count: one cloud, one stream.
    assert all(len(digests) == 1 for digests in by_seed.values())
    for point in results["points"]:
        assert set(point["summary"]) == {m.key for m in METRICS}


@pytest.mark.slow
def test_demo_runs_on_the_etcd_cluster(tmp_path: Path, etcd_cluster: object) -> None:
    """The same main job on the real 3-member cluster the etcd tests start."""
    url = etcd_cluster.url("demo")  # type: ignore[attr-defined]
    out = tmp_path / "report"
    args = ["demo", "--store", url, "--hosts", "20", "--operations", "24", "--repeats", "1"]
    assert main([*args, "--schedulers", "2", "--mode", "berthing", "--output", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    [run] = results["runs"]
    assert run["audit_problems"] == [] and run["unfinished"] == 0 and run["placements"] > 5
    assert "/demo-" in results["settings"]["store"]


@pytest.mark.slow
def test_demo_runs_on_the_cassandra_cluster(tmp_path: Path, cassandra_cluster: object) -> None:
    """The same main job on the real 3-node cluster the Cassandra tests start."""
    url = cassandra_cluster.url(KEYSPACE)  # type: ignore[attr-defined]
    out = tmp_path / "report"
    args = ["demo", "--store", url, "--hosts", "20", "--operations", "24", "--repeats", "1"]
    assert main([*args, "--schedulers", "2", "--mode", "berthing", "--output", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    [run] = results["runs"]
    assert run["audit_problems"] == [] and run["unfinished"] == 0 and run["placements"] > 5
    assert f"/{KEYSPACE}/demo-" in results["settings"]["store"]
