"""The report's figures, drawn with matplotlib's object API on an Agg canvas (no pyplot,
no display, no global state): curves of a sweep, runs of one point, and the figures
that explain races and fragmentation.

Both designs always share a panel, berthing in blue with solid lines, classic in
orange with dashes (colour and dash both differ, for colour-blind readers); a band is
the range over repeats, the line its median.
"""

from __future__ import annotations

import base64
import io
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from berthing.sim.stats import Metric, spread, value

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "curve_figure",
    "png",
    "race_classes_figure",
    "race_timing_figure",
    "runs_figure",
    "stranded_figure",
]

STYLE = {"berthing": ("#1f77b4", "-", "o"), "classic": ("#ff7f0e", "--", "s")}
Run = Mapping[str, Any]


def png(fig: Figure) -> str:
    """Base64 PNG through an explicit Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _runs_at(runs: Sequence[Run], design: str, **point: Any) -> list[Run]:
    return [
        r
        for r in runs
        if r["design"] == design and all(r["point"][k] == v for k, v in point.items())
    ]


# -- a sweep: one figure per metric -----------------------------------------------------


def curve_figure(
    runs: Sequence[Run],
    metric: Metric,
    fills: Sequence[float],
    schedulers: Sequence[int],
    arrivals: Sequence[str],
) -> Figure:
    """Rows: arrival patterns; columns: scheduler counts; x: fill; both designs."""
    from matplotlib.figure import Figure

    fig = Figure(
        figsize=(2.9 * len(schedulers) + 0.8, 2.3 * len(arrivals) + 0.9), layout="constrained"
    )
    grid = fig.subplots(len(arrivals), len(schedulers), squeeze=False, sharex=True, sharey=True)
    for row, pattern in enumerate(arrivals):
        for col, n in enumerate(schedulers):
            ax = grid[row][col]
            for design in STYLE:
                _curve(ax, runs, metric, design, fills, n, pattern)
            ax.set_title(f"{n} scheduler{'s' if n > 1 else ''}, {pattern}", fontsize="small")
            ax.grid(alpha=0.3)
            if row == len(arrivals) - 1:
                ax.set_xlabel("fill (%)")
        grid[row][0].set_ylabel(metric.unit or metric.label)
    fig.suptitle(f"{metric.label}: median (line) and range over repeats (band)")
    _legend(fig, grid[0][0])
    return fig


def _curve(
    ax: Axes,
    runs: Sequence[Run],
    metric: Metric,
    design: str,
    fills: Sequence[float],
    n: int,
    pattern: str,
) -> None:
    colour, dash, marker = STYLE[design]
    xs, med, low, high = [], [], [], []
    for fill in fills:
        s = spread(
            value(r, metric.key) * metric.scale
            for r in _runs_at(runs, design, fill=fill, schedulers=n, arrivals=pattern)
        )
        if s.n:
            xs.append(fill * 100)
            med.append(s.median)
            low.append(s.low)
            high.append(s.high)
    if xs:
        ax.fill_between(xs, low, high, color=colour, alpha=0.2, lw=0)
        ax.plot(xs, med, color=colour, ls=dash, marker=marker, ms=4, label=design)


def _legend(fig: Figure, ax: Axes) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=len(handles))


# -- one point: every run as a dot -----------------------------------------------------


def runs_figure(runs: Sequence[Run], metrics: Sequence[Metric]) -> Figure:
    """One small panel per metric: each run a dot, the median a bar, per design."""
    from matplotlib.figure import Figure

    cols = 4
    rows = math.ceil(len(metrics) / cols)
    fig = Figure(figsize=(3.2 * cols, 2.3 * rows + 0.6), layout="constrained")
    axes = list(fig.subplots(rows, cols, squeeze=False).flat)
    for ax, metric in zip(axes, metrics, strict=False):
        for x, design in enumerate(STYLE):
            values = [value(r, metric.key) * metric.scale for r in runs if r["design"] == design]
            values = [v for v in values if not math.isnan(v)]
            colour, _, marker = STYLE[design]
            ax.scatter([x] * len(values), values, color=colour, marker=marker, zorder=3)
            if values:
                s = spread(values)
                ax.hlines(s.median, x - 0.3, x + 0.3, color=colour, lw=2)
        ax.set_xticks([0, 1], list(STYLE))
        ax.set_xlim(-0.6, 1.6)
        ax.set_title(metric.label + (f" ({metric.unit})" if metric.unit else ""), fontsize="small")
        ax.grid(alpha=0.3, axis="y")
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    fig.suptitle("Every run (dots) and the median (bar), per design")
    return fig


# -- explanations ------------------------------------------------------------------------


def race_timing_figure(runs: Sequence[Run]) -> Figure:
    """When in its run each race failure happened, as a share of the run's length."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 3.2), layout="constrained")
    ax = fig.subplots()
    for design in STYLE:
        shares = race_shares([r for r in runs if r["design"] == design])
        if shares:
            colour, dash, _ = STYLE[design]
            ax.hist(
                shares,
                bins=10,
                range=(0, 1),
                histtype="step",
                lw=2,
                color=colour,
                ls=dash,
                label=f"{design} ({len(shares)} race failures)",
            )
    ax.set_xlabel("time in the run (0 = first request, 1 = last boot done)")
    ax.set_ylabel("race failures")
    ax.set_title("When races hit builds, over all runs")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small")
    return fig


def race_shares(runs: Sequence[Run]) -> list[float]:
    return [t / r["wall_s"] for r in runs for t in r.get("race_times", []) if r["wall_s"] > 0]


def race_classes_figure(runs: Sequence[Run]) -> Figure:
    """What the failed claims ran short of."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 3.2), layout="constrained")
    ax = fig.subplots()
    counts: Counter[str] = Counter()
    for r in runs:
        counts.update(r.get("race_classes", {}))
    names = [n for n, _ in counts.most_common()]
    ax.barh(names, [counts[n] for n in names], color=STYLE["classic"][0])
    ax.invert_yaxis()
    ax.set_xlabel("failed builds caused by races, all runs")
    ax.set_title("What the host's claim ran short of, when a race failed a build")
    ax.grid(alpha=0.3, axis="x")
    return fig


def stranded_figure(runs: Sequence[Run]) -> Figure:
    """Free memory on hosts too full for the reference flavor, by host shape and by the
    class that blocks it; the median over runs, per design."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.4), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    for ax, design in zip(axes, STYLE, strict=True):
        _stranded_bars(ax, [r for r in runs if r["design"] == design], design)
    axes[0].set_ylabel("stranded free memory (GB)")
    fig.suptitle("Where fragmented memory sits at the end of a run (median over runs)")
    return fig


def _stranded_bars(ax: Axes, runs: Sequence[Run], design: str) -> None:
    keys = sorted(
        {(shape, rc) for r in runs for shape, by in r.get("stranded", {}).items() for rc in by}
    )
    labels = [f"{shape}\n{rc} short" for shape, rc in keys]
    medians = [
        spread(float(r.get("stranded", {}).get(shape, {}).get(rc, 0.0)) for r in runs).median
        for shape, rc in keys
    ]
    ax.bar(range(len(keys)), medians, color=STYLE[design][0])
    ax.set_xticks(range(len(keys)), labels, fontsize="x-small")
    ax.set_title(design, fontsize="medium")
    ax.grid(alpha=0.3, axis="y")
