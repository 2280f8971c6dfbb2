"""The demo report: both modes' numbers reach the reader, the verdict follows the input.

The results are synthetic but shaped like a real run (two modes, different numbers,
timelines, thousands of latencies), so the plots and the table see realistic data.
"""

from __future__ import annotations

import json
import math
import random
import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from berthing.sim.report import render_html, render_text, verdict, write_json

CLASSES = ("VCPU", "MEMORY_MB", "DISK_GB", "CUSTOM_GPU_A100")


def _mode(seed: int, *, placements: int, retries: int, failed: int, p99: float) -> dict[str, Any]:
    rng = random.Random(seed)
    fill = 0.02 - 0.003 * seed  # the modes fill the cloud at different speeds
    latencies = [rng.lognormvariate(math.log(p99 / 6), 0.8) for _ in range(3000)]
    steps = 40
    timeline = [
        {
            "t": 0.5 * i,
            "utilization": {rc: min(1.0, fill * i * (1 + k / 10)) for k, rc in enumerate(CLASSES)},
            "placements": placements * i // steps,
            "retries": retries * i // steps,
            "conflicts": (retries + 7) * i // steps,
            "failed_builds": failed * i // steps,
        }
        for i in range(steps + 1)
    ]
    return {
        "wall_seconds": 20.25,
        "placements": placements,
        "placements_per_second": placements / 20.25,
        "latency_ms": {"p50": p99 / 6, "p99": p99, "mean": p99 / 5},
        "latencies_ms": latencies,
        "conflicts": retries + 7,
        "retries": retries,
        "requeries": retries // 2,
        "no_valid_host": 12,
        "failed_builds": failed,
        "reschedules": failed,
        "errors": failed // 10,
        "ops": {"boot": 1500, "delete": 300, "resize": 200, "skipped": 17},
        "utilization": {"VCPU": 0.631, "MEMORY_MB": 0.552, "DISK_GB": 0.417, CLASSES[3]: 0.25},
        "fragmentation": {"VCPU": 0.123, "MEMORY_MB": 0.081, "DISK_GB": 0.02},
        "timeline": timeline,
        "audit_problems": [],
    }


def make_results() -> dict[str, Any]:
    """A two-mode run: berthing 6 retries in 1,940 placements, classic 164 in 1,880."""
    return {
        "command": "berthing demo --hosts 300 --seed 7 --schedulers 4",
        "machine": {
            "cpu": "Test CPU @ 2.0GHz",
            "cores": 2,
            "python": "3.11.9",
            "sqlite": "3.40.1",
            "platform": "Linux-6.1-x86_64",
        },
        "settings": {
            "hosts": 300,
            "seed": 7,
            "schedulers": 4,
            "requests": 2000,
            "failure_rate": 0.02,
            "store": "sqlite:///tmp/demo.db",
            "modes": ["berthing", "classic"],
        },
        "modes": {
            "berthing": _mode(1, placements=1940, retries=6, failed=0, p99=48.27),
            "classic": _mode(2, placements=1880, retries=164, failed=143, p99=9.83),
        },
    }


def _text(results: dict[str, Any]) -> str:
    console = Console(record=True, width=160)
    console.print(render_text(results))
    return re.sub("[│┃]", " ", console.export_text())  # cell borders, so regexes see columns


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Rendered once: matplotlib is the slow part of this file."""
    path = render_html(make_results(), tmp_path_factory.mktemp("report") / "report.html")
    return path.read_text(encoding="utf-8")


def test_verdict_ratio_is_computed_from_the_input() -> None:
    ratio = (164 / 1880) / (6 / 1940)
    line = verdict(make_results())
    assert f"berthing {6000 / 1940:.1f} vs classic {164000 / 1880:.1f}" in line
    assert f"({ratio:.0f}x fewer with berthing)" in line
    assert "AUDIT" not in line


def test_verdict_follows_the_numbers_when_berthing_is_worse() -> None:
    results = make_results()
    results["modes"]["berthing"]["retries"] = 400
    assert "more with berthing" in verdict(results)


@pytest.mark.parametrize(
    ("b", "c", "expected"),
    [
        (0, 0, "none in either mode"),
        (0, 50, "none with berthing"),
        (50, 0, "none with classic"),
    ],
)
def test_verdict_handles_zero_retries(b: int, c: int, expected: str) -> None:
    results = make_results()
    results["modes"]["berthing"]["retries"] = b
    results["modes"]["classic"]["retries"] = c
    line = verdict(results)
    assert expected in line
    assert "x fewer" not in line and "x more" not in line


def test_verdict_without_placements_gives_no_ratio() -> None:
    results = make_results()
    results["modes"]["berthing"]["placements"] = 0
    line = verdict(results)
    assert "berthing n/a" in line and "no rate to compare" in line


def test_verdict_shouts_about_audit_problems() -> None:
    results = make_results()
    results["modes"]["classic"]["audit_problems"] = ["host-1 VCPU over-allocated", "x"]
    assert "AUDIT FAILED (problems: classic 2)" in verdict(results)
    assert re.search(r"audit problems \(must be 0\)\s+0\s+2", _text(results))


def test_text_shows_both_modes_side_by_side() -> None:
    out = _text(make_results())
    assert re.search(r"berthing\s+classic", out)
    assert re.search(r"placements\s+1,940\s+1,880", out)
    assert re.search(r"p99 \(ms\)\s+48\.27\s+9\.83", out)
    assert re.search(r"retries\s+6\s+164", out)
    assert re.search(r"failed builds\s+0\s+143", out)
    assert re.search(r"utilization VCPU \(%\)\s+63\.1\s+63\.1", out)
    assert re.search(r"utilization CUSTOM_GPU_A100 \(%\)\s+25\.0", out)
    assert re.search(r"fragmentation VCPU \(%\)\s+12\.3", out)
    assert re.search(r"skipped ops\s+17\s+17", out)
    assert "28x fewer with berthing" in out


def test_optional_counters_appear_only_when_reported() -> None:
    assert "unfinished" not in _text(make_results())
    results = make_results()
    results["modes"]["classic"]["unfinished"] = 3
    results["modes"]["classic"]["race_failures"] = 140
    out = _text(results)
    assert re.search(r"unfinished operations \(must be 0\)\s+—\s+3", out)
    assert re.search(r"failed builds from races\s+—\s+140", out)


def test_text_does_not_interpret_markup_in_settings() -> None:
    results = make_results()
    results["settings"]["store"] = "sqlite:///[bold]x.db"
    assert "sqlite:///[bold]x.db" in _text(results)


def test_single_mode_renders_everywhere(tmp_path: Path) -> None:
    results = make_results()
    del results["modes"]["classic"]
    out = _text(results)
    assert "berthing" in out and "classic" not in out
    assert "only one side ran" in verdict(results)
    page = render_html(results, tmp_path / "one.html").read_text(encoding="utf-8")
    assert page.count('<img src="data:image/png;base64,') == 3


def test_missing_fields_show_as_dashes(tmp_path: Path) -> None:
    results = make_results()
    mode = results["modes"]["classic"]
    for key in ("latency_ms", "timeline", "latencies_ms", "ops"):
        del mode[key]
    assert re.search(r"p99 \(ms\)\s+48\.27\s+—", _text(results))
    render_html(results, tmp_path / "partial.html")


def test_no_modes_at_all(tmp_path: Path) -> None:
    results = make_results()
    results["modes"] = {}
    assert "nothing to compare" in verdict(results)
    render_html(results, tmp_path / "empty.html")


def test_html_holds_table_verdict_and_three_plots(page: str) -> None:
    assert page.count('<img src="data:image/png;base64,') == 3
    assert len(re.findall(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]{1000,}"', page)) == 3
    assert ">48.27</td>" in page and ">9.83</td>" in page
    assert '<th class="num">berthing</th>' in page and '<th class="num">classic</th>' in page
    assert f"({(164 / 1880) / (6 / 1940):.0f}x fewer with berthing)" in page
    assert "Test CPU @ 2.0GHz" in page and "sqlite:///tmp/demo.db" in page
    assert "<td>berthing, classic</td>" in page


def test_html_is_self_contained(page: str) -> None:
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page and "<link" not in page


def test_html_escapes_hostile_strings(tmp_path: Path) -> None:
    results = make_results()
    results["command"] = 'berthing demo --store "<script>alert(1)</script>"'
    results["machine"]["cpu"] = "<b>cpu</b>"
    results["modes"]["classic"]["audit_problems"] = ["<img src=x onerror=alert(1)>"]
    page = render_html(results, tmp_path / "evil.html").read_text(encoding="utf-8")
    assert "<script>" not in page and "<b>cpu</b>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_json_round_trips(tmp_path: Path) -> None:
    results = make_results()
    results["settings"]["out"] = tmp_path
    path = write_json(results, tmp_path / "sub" / "results.json")
    loaded = json.loads(path.read_text(encoding="utf-8"))
    assert loaded["modes"]["classic"]["retries"] == 164
    berthing = results["modes"]["berthing"]
    assert loaded["modes"]["berthing"]["latencies_ms"] == berthing["latencies_ms"]
    assert loaded["settings"]["out"] == str(tmp_path)
