"""What ``berthing demo`` prints and writes: a short verdict, JSON, and an HTML report.

Everything here reads the results dict that ``run_experiment`` returns (and
``results.json`` holds), so a report can be rebuilt from a saved run. Nothing here
knows which design ought to win: every verdict comes from ``berthing.sim.stats``,
which calls a difference only where it exceeds the spread between repeats.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from berthing.sim.stats import METRICS, Metric, value

__all__ = ["headline", "render_text", "same_seed_drift", "write_json"]

DRIFT_METRICS = [
    m
    for m in METRICS
    if m.key in ("race_failures", "retries", "reschedules", "placements_per_s", "latency_p99_ms")
]
VERDICT_STYLE = {"better": "green", "worse": "red", "unclear": "", "n/a": "dim"}


def write_json(results: Mapping[str, Any], path: Path) -> Path:
    """The whole experiment, every run included, for later comparison or re-rendering."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
    return path


def point_title(point: Mapping[str, Any], settings: Mapping[str, Any]) -> str:
    return (
        f"{settings.get('hosts', '?')} hosts at {point['fill']:.0%} fill, "
        f"{point['schedulers']} scheduler{'s' if point['schedulers'] != 1 else ''}, "
        f"{point['arrivals']} arrivals, {settings.get('operations', '?')} operations per run"
    )


def cell(metric: Metric, summary: Mapping[str, Any], design: str) -> str:
    """``median [low..high]`` in the metric's unit."""
    s = summary.get(design) or {}
    median, low, high = (float(s.get(k, math.nan)) for k in ("median", "low", "high"))
    if math.isnan(median):
        return "n/a"
    text = metric.format(median)
    if low != high:
        text += f" [{metric.format(low)}..{metric.format(high)}]"
    return text


def verdict_table(point: Mapping[str, Any], key_only: bool) -> Table:
    summary = point["summary"]
    table = Table(show_edge=False, pad_edge=False, box=None)
    table.add_column("metric", no_wrap=True)
    table.add_column("berthing", justify="right", no_wrap=True)
    table.add_column("classic", justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    for metric in METRICS:
        if key_only and not metric.key_metric:
            continue
        s = summary[metric.key]
        style = VERDICT_STYLE.get(s["verdict"], "")
        table.add_row(
            metric.label + (f" ({metric.unit})" if metric.unit else ""),
            cell(metric, s, "berthing"),
            cell(metric, s, "classic"),
            Text(s["verdict_text"], style=style),
        )
    return table


def headline(point: Mapping[str, Any]) -> str:
    """One sentence: where berthing is better, worse, or not clearly different."""
    groups: dict[str, list[str]] = {"better": [], "worse": [], "unclear": []}
    for metric in METRICS:
        outcome = point["summary"][metric.key]["verdict"]
        if metric.key_metric and outcome in groups:
            groups[outcome].append(metric.label)
    parts = []
    for outcome, words in (
        ("better", "better on"),
        ("worse", "worse on"),
        ("unclear", "within spread on"),
    ):
        if groups[outcome]:
            parts.append(f"{words} {', '.join(groups[outcome])}")
    return "berthing: " + "; ".join(parts) + "." if parts else "nothing to compare."


def same_seed_drift(results: Mapping[str, Any]) -> list[str]:
    """For each design, the first seed's two runs side by side: what varies with the
    workload fixed is the operating system's scheduling of processes."""
    lines: list[str] = []
    seeds = results["settings"].get("seeds", [])
    if len(seeds) < 2 or seeds[0] != seeds[-1]:
        return lines
    last = len(seeds) - 1
    for point in results["points"]:
        for design in results["settings"]["designs"]:
            pair = [
                r
                for r in results["runs"]
                if r["design"] == design
                and r["point"] == {k: point[k] for k in ("fill", "schedulers", "arrivals")}
                and r["repeat"] in (0, last)
            ]
            if len(pair) == 2:
                where = _point_name(point) + ", " if len(results["points"]) > 1 else ""
                lines.append(
                    f"{where}{design}: " + ", ".join(_pair(m, pair) for m in DRIFT_METRICS)
                )
    return lines


def _point_name(point: Mapping[str, Any]) -> str:
    return f"{point['fill']:.0%} fill, {point['schedulers']} sched., {point['arrivals']}"


def _pair(metric: Metric, pair: Sequence[Mapping[str, Any]]) -> str:
    a, b = (value(r, metric.key) for r in pair)
    return f"{metric.label} {metric.format(a)} / {metric.format(b)}"


def render_text(results: Mapping[str, Any], key_only: bool = True) -> Group:
    """The default demo's verdict: per point, a table of the key metrics and a headline."""
    settings = results["settings"]
    parts: list[Any] = []
    seeds = ", ".join(map(str, settings.get("seeds", [])))
    for point in results["points"]:
        parts.append(Text(f"\n{point_title(point, settings)}", style="bold"))
        parts.append(
            Text(f"median [range] of the runs with seeds {seeds} (the last repeats the first)")
        )
        parts.append(verdict_table(point, key_only))
        parts.append(Text(headline(point), style="bold"))
    parts.append(Text(_fingerprints(results)))
    drift = same_seed_drift(results)
    if drift:
        parts.append(
            Text(
                "The first seed ran twice, on the same cloud and stream (digests above); "
                "what differs between its runs is how the operating system scheduled the "
                "processes:\n  " + "\n  ".join(drift)
            )
        )
    timing = results.get("timing", {})
    machine = results.get("machine", {})
    if machine:
        load = machine.get("load average at start (1 min)", "?")
        parts.append(
            Text(f"machine: {machine.get('cores', '?')} cores, load average {load} at the start")
        )
    parts.append(
        Text(
            f"set-up {timing.get('setup_s', '?')} s (excluded), "
            f"measured runs {timing.get('runs_s', '?')} s, total {timing.get('total_s', '?')} s; "
            f"CPU of all processes {timing.get('cpu_s', '?')} s"
        )
    )
    return Group(*parts)


def _fingerprints(results: Mapping[str, Any]) -> str:
    """The workload as digests: two runs with the same seed print the same lines."""
    clouds = {(c["seed"], c["target_fill"]): c for c in results.get("clouds", [])}
    lines: list[str] = []
    for stream in results.get("streams", []):
        c = clouds.get((stream["seed"], stream["fill"]))
        cloud = f"cloud {c['sha256'][:16]}, " if c else ""
        lines.append(
            f"seed {stream['seed']}, fill {stream['fill']:.0%}: {cloud}"
            f"stream {stream['sha256'][:16]}"
        )
    return "workload (sha256):\n  " + "\n  ".join(lines)
