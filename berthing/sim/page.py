"""The HTML report: one self-contained page (plots as data URIs) for a demo or a sweep.

Each figure comes with a sentence that says what to look for, and a sentence
computed from the numbers that says what the verdicts found there. Tables carry the
medians and ranges. Strings from the results (the command line, store URLs) are
escaped: a report must not run what it quotes.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from berthing.sim import plots
from berthing.sim.report import cell, headline, point_title, same_seed_drift
from berthing.sim.stats import DESCRIPTIONS, METRICS, Metric

__all__ = ["CAPTIONS", "render_html"]

_esc = html.escape

CAPTIONS: dict[str, str] = {
    "race_failures": "The seed's claim, directly: a build that fails because two schedulers "
    "chose the same room. With claims in the store it cannot happen, so berthing's line "
    "stays at zero; see where classic's leaves it.",
    "retries": "What berthing pays instead: a claim the store refused, tried again on the next "
    "candidate within the same scheduling call. Classic never has one: it does not check "
    "before the host does.",
    "reschedules": "A failed build placed again, a whole extra build cycle: injected build "
    "failures give both designs the same floor, classic's races add to it.",
    "failed_builds": "Every failed build: injected failures (the same placements fail in both "
    "designs) plus races.",
    "no_valid_host": "Requests nothing could take. It grows with fill for both; a gap between "
    "the designs means one of them packs the hosts differently.",
    "errors": "Boots that ended in ERROR: no valid host, or a build that failed too often.",
    "placements_per_s": "Throughput of the whole system. Schedulers, agents and the driver "
    "share two cores, so more schedulers add processes, not capacity.",
    "latency_p50_ms": "One scheduling call. berthing's includes its query and claim in the "
    "store; classic's its filters over a private copy of every host.",
    "latency_p99_ms": "The slow calls: classic's periodic refresh of its copy (every host, "
    "read at once) lands here, and so does any wait for the store's write lock.",
    "to_active_p50_ms": "From submit to ACTIVE, queueing and build included.",
    "to_active_p99_ms": "The slowest boots: where a reschedule's extra build cycle shows.",
    "fragmentation.MEMORY_MB": "Free memory stranded on hosts too full (often in vCPUs) to take "
    "an m1.large. The section on fragmentation below says why the designs differ.",
    "fragmentation.VCPU": "Free vCPUs stranded on hosts too full to take an m1.large.",
    "utilization.MEMORY_MB": "Memory in use at the end. Both designs ran the same stream, so a "
    "difference means one placed more of it.",
    "fill_end": "The cloud's fill at the end (the average host's fullness in its scarcest "
    "class); it starts at the point's fill.",
    "queries_per_placement": "What berthing costs: a query to the store for each scheduling "
    "pass. Classic queries once per refresh, for everything.",
    "providers_read_per_placement": "How much of the cloud is read per placement: berthing at "
    "most 50 providers per query, classic every provider at each refresh.",
    "claims_per_placement": "Compare-and-set writes per placement: berthing's in the scheduler, "
    "classic's at the host when it builds (a lost one is a failed build).",
}

CSS = """
body { font: 15px/1.45 system-ui, sans-serif; color: #222; max-width: 1250px;
       margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
.headline { font-size: 1.1em; font-weight: 600; background: #eef4fb;
            border-left: 4px solid #1f77b4; padding: 0.6em 0.9em; }
pre { background: #f5f5f5; padding: 0.6em; overflow-x: auto; white-space: pre-wrap; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #ddd; text-align: left;
         vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.better { background: #e8f5e9; } td.worse { background: #fdecea; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
small { color: #666; }
figcaption { margin-top: 0.4em; } figcaption .found { color: #444; font-style: italic; }
"""


def render_html(results: Mapping[str, Any], path: Path) -> Path:
    """Write the page for ``results`` (a demo's single point or a sweep's grid)."""
    points = results["points"]
    body = [_intro(results)]
    if len(points) == 1:
        body.append(_point_section(results, points[0]))
    else:
        body.append(_sweep_section(results))
    body.append(_explanations(results))
    body.append(_facts(results))
    title = "berthing demo: the claims in the store against the classic design"
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_esc(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{_esc(title)}</h1>{''.join(body)}</body></html>\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def _figure(name: str, fig: Any, what: str, found: str = "") -> str:
    found_html = f' <span class="found">{_esc(found)}</span>' if found else ""
    return (
        f'<figure class="plot" data-plot="{_esc(name)}">'
        f'<img alt="{_esc(name)}" src="data:image/png;base64,{plots.png(fig)}">'
        f"<figcaption>{_esc(what)}{found_html}</figcaption></figure>"
    )


def _intro(results: Mapping[str, Any]) -> str:
    s = results["settings"]
    seeds = ", ".join(map(str, s.get("seeds", [])))
    return (
        "<p>The seed's claim: with claims in the store, a race between schedulers costs a "
        "cheap retry instead of a failed build, and several schedulers can run at once. Both "
        "designs run the same seeded stream of boots and deletes on the same prefilled cloud "
        f"({s['hosts']} hosts). Each point ran {s['repeats']} times per design (seeds {seeds}: "
        "the last repeats the first). A verdict is given only where the two designs' ranges "
        "do not overlap and the medians differ by at least 5%.</p>"
    )


# -- one point ---------------------------------------------------------------------------


def _point_section(results: Mapping[str, Any], point: Mapping[str, Any]) -> str:
    runs = results["runs"]
    title = point_title(point, results["settings"])
    table = _verdict_table(point)
    fig = plots.runs_figure(runs, [m for m in METRICS if m.key_metric])
    what = (
        "Each dot is one run; the spread of a design's dots is what separates a difference "
        "from noise."
    )
    return (
        f"<h2>{_esc(title)}</h2><p class=\"headline\">{_esc(headline(point))}</p>"
        f"{table}{_figure('runs', fig, what)}"
    )


def _verdict_table(point: Mapping[str, Any]) -> str:
    rows = []
    for metric in METRICS:
        s = point["summary"][metric.key]
        unit = f" ({metric.unit})" if metric.unit else ""
        about = DESCRIPTIONS.get(metric.key, "")
        rows.append(
            f"<tr><td>{_esc(metric.label + unit)}<br><small>{_esc(about)}</small></td>"
            f'<td class="num">{_esc(cell(metric, s, "berthing"))}</td>'
            f'<td class="num">{_esc(cell(metric, s, "classic"))}</td>'
            f'<td class="{_esc(s["verdict"])}">{_esc(s["verdict_text"])}</td></tr>'
        )
    head = "".join(
        f"<th>{h}</th>"
        for h in ("metric", "berthing: median [range]", "classic: median [range]", "verdict")
    )
    head = f"<tr>{head}</tr>"
    return f'<table class="results" data-table="verdicts">{head}{"".join(rows)}</table>'


# -- a sweep -----------------------------------------------------------------------------


def _axes(results: Mapping[str, Any]) -> tuple[list[float], list[int], list[str]]:
    points = results["points"]
    fills = sorted({p["fill"] for p in points})
    schedulers = sorted({p["schedulers"] for p in points})
    arrivals = [a for a in ("steady", "bursty") if any(p["arrivals"] == a for p in points)]
    return fills, schedulers, arrivals


def _sweep_section(results: Mapping[str, Any]) -> str:
    fills, schedulers, arrivals = _axes(results)
    parts = ["<h2>The curves</h2>"]
    for metric in [m for m in METRICS if m.key_metric]:
        fig = plots.curve_figure(results["runs"], metric, fills, schedulers, arrivals)
        found = findings(results["points"], metric)
        parts.append(_figure(metric.key, fig, CAPTIONS[metric.key], found))
    parts.append("<h2>Every point</h2>")
    parts.append(_points_table(results["points"]))
    return "".join(parts)


def findings(points: Sequence[Mapping[str, Any]], metric: Metric) -> str:
    """Where berthing was better, worse, or not clearly different on ``metric``."""
    by: dict[str, list[Mapping[str, Any]]] = {}
    for p in points:
        by.setdefault(p["summary"][metric.key]["verdict"], []).append(p)
    parts = []
    for outcome in ("better", "worse", "higher", "lower"):
        if by.get(outcome):
            where = _where(by[outcome])
            parts.append(f"berthing {outcome} at {len(by[outcome])} of {len(points)} ({where})")
    unclear = len(by.get("unclear", [])) + len(by.get("n/a", []))
    if unclear:
        parts.append(f"no clear difference at {unclear}")
    return "Found: " + "; ".join(parts) + "."


def _where(points: Sequence[Mapping[str, Any]]) -> str:
    """``steady, 4 schedulers: 85-95%`` style, grouped by arrivals and scheduler count."""
    groups: dict[tuple[str, int], list[float]] = {}
    for p in points:
        groups.setdefault((p["arrivals"], p["schedulers"]), []).append(p["fill"])
    return "; ".join(
        f"{a}, {n} sched.: {', '.join(f'{f:.0%}' for f in sorted(fs))}"
        for (a, n), fs in sorted(groups.items())
    )


def _points_table(points: Sequence[Mapping[str, Any]]) -> str:
    metrics = [m for m in METRICS if m.key_metric]
    head = (
        "<tr><th>arrivals</th><th>sched.</th><th>fill</th>"
        + "".join(f"<th>{_esc(m.label)}</th>" for m in metrics)
        + "</tr>"
    )
    rows = []
    for p in points:
        cells = "".join(_point_cell(m, p["summary"][m.key]) for m in metrics)
        rows.append(
            f"<tr><td>{_esc(p['arrivals'])}</td><td>{p['schedulers']}</td>"
            f"<td>{p['fill']:.0%}</td>{cells}</tr>"
        )
    return f'<table class="results" data-table="points">{head}{"".join(rows)}</table>'


def _point_cell(metric: Metric, s: Mapping[str, Any]) -> str:
    text = f"b {cell(metric, s, 'berthing')}<br>c {cell(metric, s, 'classic')}"
    return f'<td class="num {_esc(s["verdict"])}">{text}</td>'


# -- explanations and facts --------------------------------------------------------------


def _explanations(results: Mapping[str, Any]) -> str:
    runs = results["runs"]
    parts = [
        "<h2>Why the numbers look like this</h2>",
        "<h3>When and where races hit builds</h3>",
        _figure(
            "race-timing",
            plots.race_timing_figure(runs),
            "Where in its run each race failure fell. Each run starts at its fill and keeps "
            "it (as many deletes as boots), so the fill does not change along this axis: "
            "races bunched at the end of a run would not be the cloud filling up here, as "
            "they were in the older demo that filled an empty cloud (docs/demo.md).",
            _timing_found(runs),
        ),
        _figure(
            "race-classes",
            plots.race_classes_figure(runs),
            "What the host's claim ran short of. A class with one unit per host (a "
            "bare-metal node) fails as soon as two schedulers pick the same node, and "
            "classic's schedulers all rank the same full list the same way: where every "
            "weigher ties (no memory on a bare-metal node), all of them take one of the "
            "same first two. vCPU and memory race only on nearly full hosts.",
            _classes_found(runs),
        ),
        "<h3>Fragmentation: what each design's weighers do</h3>",
        _figure(
            "stranded",
            plots.stranded_figure(runs),
            "Free memory on hosts too full to take an m1.large, by host shape and by the "
            "class that blocks them. Both designs weigh by free memory, but classic weighs "
            "every host and takes one of the two best of the cloud, berthing one of the two "
            "best of a random slice of at most 50. In a run at a fixed fill the stream "
            "moves a few percent of the instances, so this picture is mostly the prefill, "
            "the same for both.",
            _fragmentation_found(results),
        ),
    ]
    drift = same_seed_drift(results)
    if drift:
        items = "".join(f"<li>{_esc(line)}</li>" for line in drift)
        parts.append(
            "<h3>What still varies with the same seed</h3><p>The cloud and the stream are "
            "byte for byte the same (digests below); the operating system's scheduling of "
            "processes decides which scheduler takes which request, and when, so the counts "
            f"differ between the two runs of the first seed:</p><ul>{items}</ul>"
        )
    return "".join(parts)


def _timing_found(runs: Sequence[Mapping[str, Any]]) -> str:
    shares = plots.race_shares([r for r in runs if r["design"] == "classic"])
    if not shares:
        return "Found: no race failures in any classic run."
    first = sum(s < 0.2 for s in shares) / len(shares)
    last = sum(s >= 0.8 for s in shares) / len(shares)
    return (
        f"Found: {len(shares)} race failures in classic's runs; {first:.0%} in the first "
        f"fifth of a run's time, {last:.0%} in the last fifth."
    )


def _classes_found(runs: Sequence[Mapping[str, Any]]) -> str:
    counts: dict[str, int] = {}
    for r in runs:
        for name, n in r.get("race_classes", {}).items():
            counts[name] = counts.get(name, 0) + n
    total = sum(counts.values())
    if not total:
        return "Found: no race failures."
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    return "Found: " + ", ".join(f"{name} {n} of {total}" for name, n in ranked) + "."


def _fragmentation_found(results: Mapping[str, Any]) -> str:
    metric = next(m for m in METRICS if m.key == "fragmentation.MEMORY_MB")
    outcomes: dict[str, int] = {}
    for p in results["points"]:
        verdict = p["summary"][metric.key]["verdict"]
        outcomes[verdict] = outcomes.get(verdict, 0) + 1
    words = {"better": "berthing lower", "worse": "berthing higher", "unclear": "within spread"}
    said = ", ".join(f"{words.get(v, v)} at {n}" for v, n in sorted(outcomes.items()))
    return f"Found, memory fragmentation by point: {said} (of {len(results['points'])})."


def _facts(results: Mapping[str, Any]) -> str:
    rows = [
        f"<tr><td>seed {c['seed']}, fill {c['target_fill']:.0%}</td><td>cloud {c['sha256']}</td>"
        f"<td>{c['prefilled']} instances prefilled, fill reached {c['fill']:.1%}</td></tr>"
        for c in results.get("clouds", [])
    ]
    rows += [
        f"<tr><td>seed {s['seed']}, fill {s['fill']:.0%}</td><td>stream {s['sha256']}</td>"
        f"<td>{s['operations']} operations</td></tr>"
        for s in results.get("streams", [])
    ]
    settings = "".join(
        f"<tr><th>{_esc(str(k))}</th><td>{_esc(str(v))}</td></tr>"
        for k, v in {
            **results.get("machine", {}),
            **results["settings"],
            **results.get("timing", {}),
        }.items()
        if k != "points"
    )
    return (
        f"<h2>Command</h2><pre>{_esc(str(results.get('command', '')))}</pre>"
        "<h2>Workload digests (sha256)</h2>"
        f'<table class="results" data-table="digests">{"".join(rows)}</table>'
        "<h2>Machine and settings</h2>"
        f'<table class="results" data-table="settings">{settings}</table>'
    )
