"""``berthing bench scheduler --quick``, as CI runs it, and side by side with etcd and
Cassandra: the report is checked for content (numbers present and sane, the stores
sound, every anchor and target where it belongs), never for speed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from berthing.cli.main import main
from berthing.devtools.cassandra_cluster import CassandraCluster
from berthing.devtools.etcd_cluster import EtcdCluster
from berthing.model import InvalidInput
from berthing.sim.bench.anchor import Anchor
from berthing.sim.bench.results import RunResult, percentile
from berthing.sim.bench.sites import parse_stores
from berthing.sim.bench.targets import (
    ANCHOR_TARGETS,
    ETCD_TARGET,
    anchor_target,
    check,
    check_anchor,
)
from berthing.store import open_store
from berthing.store.audit import audit
from tests.cassandra_fixtures import Running


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
    _check_runs(runs)
    assert runs[1]["store_cpu"] is None  # a cluster the bench did not start
    [anchor] = report["anchors"]
    _check_anchor(anchor, "etcd")
    [one, two] = report["comparison"]
    assert (one["schedulers"], two["schedulers"]) == (1, 2)
    assert one["rate_ratio"] == pytest.approx(one["per_s"] / one["sqlite_per_s"])
    assert one["anchor_share"] == pytest.approx(one["per_s"] / anchor["cas_per_s"]["1"])
    assert two["anchor_per_s"] is None  # no anchor measured with 2 clients
    assert "--store sqlite,etcd://" in report["command"]
    # No 4-scheduler run, so no etcd verdict; SQLite's targets never judge etcd runs.
    assert {t["target"] for t in report["targets"]} == {"retries < 2% below 90% full"}
    assert all(t["schedulers"] in (1, 2) for t in report["targets"])
    assert len(report["targets"]) == 2
    # Every prefix the bench wrote is gone.
    assert not etcd_cluster.scan("/benchtest-bench-")


@pytest.mark.slow
def test_three_engines_side_by_side_with_both_anchors(
    etcd_cluster: EtcdCluster, cassandra_cluster: CassandraCluster | Running, tmp_path: Path
) -> None:
    """``--store etcd://...,cassandra://...``: SQLite, etcd and Cassandra run the same
    clouds and streams in one invocation; each remote engine's anchor is measured with
    1 and 4 clients and its target judged on its 4-scheduler run; the Cassandra cloud
    is reset between runs like etcd's, and the scratch keyspace is dropped at the end.
    Content only, never speed."""
    out = tmp_path / "results.json"
    stores = f"sqlite,{etcd_cluster.url('benchtest3')},{cassandra_cluster.url('benchtest')}"
    argv = ["bench", "scheduler", "--sizes", "40", "--schedulers", "1,4", "--requests", "4"]
    argv += ["--warmup", "1", "--reruns", "0", "--store", stores]
    assert main([*argv, "--store-dir", str(tmp_path), "--output", str(out)]) == 0
    report = json.loads(out.read_text())
    runs = report["runs"]
    engines = ["sqlite", "etcd", "cassandra"]
    assert [(r["store"], r["schedulers"]) for r in runs] == [
        (e, n) for n in (1, 4) for e in engines
    ]
    _check_runs(runs)
    anchors = {a["engine"]: a for a in report["anchors"]}
    assert list(anchors) == ["etcd", "cassandra"]
    for engine, anchor in anchors.items():
        _check_anchor(anchor, engine)
    assert "SERIAL read" in anchors["cassandra"]["cycle"]
    comparison = report["comparison"]
    assert [(c["store"], c["schedulers"]) for c in comparison] == [
        ("etcd", 1),
        ("cassandra", 1),
        ("etcd", 4),
        ("cassandra", 4),
    ]
    for c in comparison:
        rate = anchors[c["store"]]["cas_per_s"][str(c["schedulers"])]
        assert c["anchor_per_s"] == rate
        assert c["anchor_share"] == pytest.approx(c["per_s"] / rate)
    verdicts = {t["target"]: t for t in report["targets"] if t["target"] in _ANCHOR_TARGETS}
    assert set(verdicts) == set(_ANCHOR_TARGETS)
    for engine in ("etcd", "cassandra"):
        v = verdicts[anchor_target(engine)]
        assert v["schedulers"] == 4 and v["size"] == 40
        share = ANCHOR_TARGETS[engine][0]
        assert v["limit"] == pytest.approx(share * anchors[engine]["cas_per_s"]["4"])
        assert v["met"] == (v["value"] >= v["limit"])
    assert report["command"].endswith(f"--store {stores}")
    assert parse_stores([stores]) == (
        etcd_cluster.url("benchtest3"),
        cassandra_cluster.url("benchtest"),
    )
    assert not etcd_cluster.scan("/benchtest3-bench-")
    assert not _keyspaces(cassandra_cluster.url("benchtest"), "benchtest_bench_")


_ANCHOR_TARGETS = {anchor_target(e) for e in ("etcd", "cassandra")}


def _check_runs(runs: list[dict[str, Any]]) -> None:
    """Every run sound; each remote run ends exactly as full as its SQLite twin (the
    same cloud and streams, and the remote cloud released between runs)."""
    for r in runs:
        assert r["placements"] > 0 and r["audit_problems"] == []
        assert r["placements"] + r["no_valid_host"] == r["requests"]
        assert 0 < r["p50_ms"] <= r["p99_ms"]
    sqlite = {r["schedulers"]: r for r in runs if r["store"] == "sqlite"}
    for r in runs:
        assert r["fill"] == pytest.approx(sqlite[r["schedulers"]]["fill"]), r["store"]


def _check_anchor(anchor: dict[str, Any], engine: str) -> None:
    assert anchor["engine"] == engine and anchor["seconds"] > 0
    assert set(anchor["cas_per_s"]) == set(anchor["p50_ms"]) == {"1", "4"}
    assert all(v > 0 for v in anchor["cas_per_s"].values())
    assert all(v > 0 for v in anchor["p50_ms"].values())


def _keyspaces(url: str, prefix: str) -> list[str]:
    from berthing.store.cassandra.config import parse_url
    from berthing.store.cassandra.session import Cql

    cql = Cql(parse_url(url))
    try:
        rows = cql.read("SELECT keyspace_name FROM system_schema.keyspaces")
    finally:
        cql.close()
    return [str(r["keyspace_name"]) for r in rows if str(r["keyspace_name"]).startswith(prefix)]


def test_store_specs_keep_commas_inside_urls_and_come_in_engine_order() -> None:
    assert parse_stores(["cassandra-local:39042,sqlite,etcd://a:1,b:2,c:3/p"]) == (
        "etcd://a:1,b:2,c:3/p",
        "cassandra-local:39042",
    )
    assert parse_stores(["etcd-local", "cassandra://h1,h2,h3:9042/ks"]) == (
        "etcd-local",
        "cassandra://h1,h2,h3:9042/ks",
    )
    assert parse_stores(["sqlite"]) == ()
    with pytest.raises(InvalidInput, match="not an engine"):
        parse_stores(["mysql://x"])
    with pytest.raises(InvalidInput, match="twice"):
        parse_stores(["etcd-local,etcd://a:1"])


def test_options_name_engines_and_their_largest_cloud_and_repeat_as_given() -> None:
    from berthing.cli.main import build_parser
    from berthing.sim.bench.options import options_from_args

    argv = ["bench", "scheduler", "--sizes", "1k,10k", "--schedulers", "1,4"]
    argv += ["--store", "sqlite,etcd-local", "--store", "cassandra-local:39042"]
    opts = options_from_args(build_parser().parse_args([*argv, "--max-size", "cassandra=3k"]))
    assert opts.stores == ("etcd-local", "cassandra-local:39042")
    assert opts.max_size("cassandra") == 3000 and opts.max_size("etcd") is None
    assert opts.command().endswith(
        "--store sqlite,etcd-local,cassandra-local:39042 --max-size cassandra=3000"
    )
    again = options_from_args(build_parser().parse_args(opts.command().split()[1:]))
    assert again == opts
    with pytest.raises(InvalidInput, match="not a remote engine"):
        options_from_args(build_parser().parse_args([*argv, "--max-size", "sqlite=10"]))
    with pytest.raises(SystemExit):
        build_parser().parse_args([*argv, "--max-size", "cassandra"])


def test_anchor_targets_judge_only_their_engine_with_4_schedulers() -> None:
    from dataclasses import replace

    sqlite = _run(10_000, 4, p99=4.0, rate=900.0, retries=0.0)
    etcd = replace(sqlite, store="etcd", placements_per_s=240.0)
    cassandra = replace(sqlite, store="cassandra", placements_per_s=30.0)
    runs = [sqlite, etcd, replace(etcd, schedulers=2), cassandra]
    etcd_anchor = Anchor("etcd", "cycle", {1: 100.0, 4: 500.0}, {1: 1.0, 4: 2.0}, 3.0)
    [v] = check_anchor(runs, etcd_anchor)
    assert v.target == ETCD_TARGET and v.limit == pytest.approx(300.0)
    assert not v.met and v.margin == pytest.approx(-0.2)
    cassandra_anchor = Anchor("cassandra", "cycle", {1: 30.0, 4: 50.0}, {1: 1.0, 4: 2.0}, 3.0)
    [v] = check_anchor(runs, cassandra_anchor)
    assert v.target == anchor_target("cassandra") and v.limit == pytest.approx(25.0)
    assert v.met and v.margin == pytest.approx(0.2)
    assert check_anchor(runs, replace(cassandra_anchor, rates={1: 30.0})) == []
    assert all(v.target not in _ANCHOR_TARGETS for v in check(runs))
    assert len(check(runs)) == 3  # the remote runs answer to no SQLite target
