"""``berthing bench scheduler --quick``, as CI runs it: the report is checked for content
(numbers present and sane, the stores sound), never for speed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from berthing.cli.main import main
from berthing.devtools.etcd_cluster import EtcdCluster
from berthing.sim.bench.results import RunResult, percentile
from berthing.sim.bench.targets import check
from berthing.store import open_store
from berthing.store.audit import audit


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """One quick run shared by the tests below (it costs a few seconds)."""
    store_dir = tmp_path_factory.mktemp("bench")
    out = store_dir / "results.json"
    argv = ["bench", "scheduler", "--quick", "--store-dir", str(store_dir), "--output", str(out)]
    assert main([*argv, "--markdown", str(store_dir / "results.md")]) == 0
    return store_dir, json.loads(out.read_text())


@pytest.mark.slow
def test_quick_run_reports_sane_figures(quick: tuple[Path, dict[str, Any]]) -> None:
    _, report = quick
    runs = report["runs"]
    assert [(r["size"], r["schedulers"]) for r in runs] == [(200, 1), (200, 2)]
    for r in runs:
        assert r["placements"] > 0
        assert r["placements"] + r["no_valid_host"] == r["requests"]
        assert r["requests"] == r["schedulers"] * r["requests_per_process"]
        assert 0 < r["p50_ms"] <= r["p99_ms"] <= r["max_ms"]
        assert r["placements_per_s"] > 0 and r["wall_s"] > 0
        assert r["retries_per_1k"] >= 0 and r["conflicts_per_1k"] >= 0
        assert 10 < r["peak_rss_mb"] < 500  # a Python interpreter with berthing loaded
        assert 0 <= r["file_rss_mb"] <= r["peak_rss_mb"]
        assert r["cpu_ms_per_placement"] > 0 and r["calibration_ms"] > 0
        assert 0 < r["fill_max"] < 0.9
        assert set(r["phases_ms"]) == {"query", "claim", "records", "other"}
        assert r["audit_problems"] == []
    assert "--sizes 200 --schedulers 1,2" in report["command"]
    assert report["machine"]["cores"] >= 1 and report["machine"]["sqlite"]
    assert {t["target"] for t in report["targets"]} == {"retries < 2% below 90% full"}


@pytest.mark.slow
def test_quick_run_leaves_sound_stores_copied_from_one_template(
    quick: tuple[Path, dict[str, Any]],
) -> None:
    store_dir, report = quick
    [template] = store_dir.glob("cloud-200-*.db")
    for r in report["runs"]:
        with open_store(str(store_dir / f"run-200-{r['schedulers']}.db")) as store:
            assert audit(store) == []
            held = sum(
                len(store.provider_allocations(s.provider.uuid))
                for s in store.find_providers(_all())
            )
            # Warm-up placements stay in the store too; those of the timed part are counted.
            assert held >= r["placements"]
    with open_store(str(template)) as store:
        assert not any(
            store.provider_allocations(s.provider.uuid) for s in store.find_providers(_all())
        )
    assert "| providers |" in (store_dir / "results.md").read_text()


def _all() -> Any:
    from berthing.model import ProviderQuery

    return ProviderQuery()


def _run(size: int, schedulers: int, p99: float, rate: float, retries: float) -> RunResult:
    return RunResult(
        size=size,
        schedulers=schedulers,
        requests_per_process=10,
        requests=10 * schedulers,
        placements=10 * schedulers,
        no_valid_host=0,
        conflicts=0,
        retries=0,
        wall_s=1.0,
        placements_per_s=rate,
        p50_ms=1.0,
        p99_ms=p99,
        max_ms=p99,
        conflicts_per_1k=0.0,
        retries_per_1k=retries,
        peak_rss_mb=50.0,
        file_rss_mb=10.0,
        cpu_busy=1.0,
        calibration_ms=30.0,
        cpu_ms_per_placement=1.0,
        other_cpu=0.0,
        phases_ms={},
        switches={"voluntary": 0.0, "involuntary": 0.0},
        fill={"VCPU": 0.5},
    )


def test_targets_apply_to_their_runs_and_measure_the_miss() -> None:
    verdicts = check(
        [
            _run(10_000, 4, p99=4.0, rate=900.0, retries=25.0),
            _run(100_000, 1, p99=30.0, rate=500.0, retries=0.0),
            _run(1_000, 1, p99=99.0, rate=1.0, retries=0.0),
        ]
    )
    by = {(v.target, v.size): v for v in verdicts}
    assert by[("p99 <= 5 ms at 10k", 10_000)].met
    assert not by[("p99 <= 25 ms at 100k", 100_000)].met
    assert by[("p99 <= 25 ms at 100k", 100_000)].margin == pytest.approx(-0.2)
    rate = by[(">= 1000 placements/s, 4 schedulers at 10k", 10_000)]
    assert not rate.met and rate.margin == pytest.approx(-0.1)
    assert not by[("retries < 2% below 90% full", 10_000)].met  # 2.5%
    assert by[("retries < 2% below 90% full", 1_000)].met
    assert len(verdicts) == 6  # the 1k run's p99 answers to no latency target


def test_percentile_is_nearest_rank() -> None:
    values = [float(x) for x in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([3.0], 99) == 3.0
    assert percentile([], 50) == 0.0


@pytest.mark.slow
def test_etcd_side_by_side_reports_both_stores_and_the_anchor(
    etcd_cluster: EtcdCluster, tmp_path: Path
) -> None:
    """``--store etcd://...``: every configuration on both stores, the CAS anchor, the
    ratios and the etcd target; the etcd cloud is reset between runs (content only)."""
    out = tmp_path / "results.json"
    argv = ["bench", "scheduler", "--sizes", "60", "--schedulers", "1,2", "--requests", "8"]
    argv += ["--warmup", "2", "--reruns", "0", "--store", etcd_cluster.url("benchtest")]
    assert main([*argv, "--store-dir", str(tmp_path), "--output", str(out)]) == 0
    report = json.loads(out.read_text())
    runs = report["runs"]
    assert [(r["store"], r["schedulers"]) for r in runs] == [
        ("sqlite", 1),
        ("etcd", 1),
        ("sqlite", 2),
        ("etcd", 2),
    ]
    for r in runs:
        assert r["placements"] > 0 and r["audit_problems"] == []
        assert r["placements"] + r["no_valid_host"] == r["requests"]
        assert 0 < r["p50_ms"] <= r["p99_ms"]
    by = {(r["store"], r["schedulers"]): r for r in runs}
    # The same cloud and streams on both stores, and the etcd cloud released between
    # runs: each run ends exactly as full as its SQLite twin.
    for procs in (1, 2):
        assert by[("etcd", procs)]["fill"] == pytest.approx(by[("sqlite", procs)]["fill"])
    assert by[("etcd", 1)]["store_cpu"] is None  # a cluster the bench did not start
    assert set(report["anchor"]["cas_per_s"]) == {"1", "4"}
    assert all(v > 0 for v in report["anchor"]["cas_per_s"].values())
    [one, two] = report["comparison"]
    assert (one["schedulers"], two["schedulers"]) == (1, 2)
    assert one["rate_ratio"] == pytest.approx(one["etcd_per_s"] / one["sqlite_per_s"])
    assert "--store etcd://" in report["command"]
    # No 4-scheduler run, so no etcd verdict; SQLite's targets never judge etcd runs.
    assert {t["target"] for t in report["targets"]} == {"retries < 2% below 90% full"}
    assert all(t["schedulers"] in (1, 2) for t in report["targets"])
    assert len(report["targets"]) == 2
    # Every prefix the bench wrote is gone.
    assert not etcd_cluster.scan("/benchtest-bench-")


def test_etcd_target_judges_only_etcd_runs_with_4_schedulers() -> None:
    from dataclasses import replace

    from berthing.sim.bench.targets import ETCD_TARGET, check_etcd

    sqlite = _run(10_000, 4, p99=4.0, rate=900.0, retries=0.0)
    etcd = replace(sqlite, store="etcd", placements_per_s=240.0)
    [v] = check_etcd([sqlite, etcd, replace(etcd, schedulers=2)], cas_4_clients=500.0)
    assert v.target == ETCD_TARGET and v.limit == pytest.approx(300.0)
    assert not v.met and v.margin == pytest.approx(-0.2)
    assert all(v.target != ETCD_TARGET for v in check([sqlite, etcd]))
    assert len(check([sqlite, etcd])) == 3  # the etcd run answers to no SQLite target
