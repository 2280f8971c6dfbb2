"""The report of ``berthing demo``: a terminal table, a self-contained HTML page, JSON.

The demo runs one seeded workload under two claim designs, and the report exists to
test one sentence of the design: that claiming in the shared store "will greatly
reduce, and possibly eliminate, the frequency of retries". So both modes sit side by
side, computed from the same rows, and the verdict is worked out from the numbers
every time: nothing in here knows which mode ought to win.

This module only reads the results dict the demo produces (see ``write_json``), so a
report can be rebuilt from a saved run. Any mode may be absent (``--mode berthing``),
and any field may be missing from a mode: a missing number shows as a dash rather
than failing the whole report after a long run. matplotlib is imported only inside
``render_html``, so the CLI does not pay for it on start-up.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["render_html", "render_text", "verdict", "write_json"]

#: Modes in the order they are compared; any other mode follows in results order.
MODE_ORDER = ("berthing", "classic")
#: Resource classes everyone looks for first; the rest follow alphabetically.
CLASS_ORDER = ("VCPU", "MEMORY_MB", "DISK_GB")
MISSING = "—"
RATE_LABEL = "retries per 1,000 placements"
#: Rows the verdict rests on, made bold so the eye finds them.
KEY_ROWS = frozenset({"retries", "failed builds", "conflicts (lost claims in the scheduler)"})
AUDIT_ROW = "audit problems (must be 0)"
UNFINISHED_ROW = "unfinished operations (must be 0)"
#: (colour, line style) per mode: colour and dash both differ, for colour-blind readers.
MODE_STYLES = {"berthing": ("#1f77b4", "-"), "classic": ("#ff7f0e", "--")}
EXTRA_STYLES = (("#2ca02c", "-."), ("#9467bd", ":"), ("#8c564b", "-"))

Mode = Mapping[str, Any]
Getter = Callable[[Mode], str]
Row = tuple[str, list[str]]


# --- reading results -------------------------------------------------------------------


def _modes(results: Mapping[str, Any]) -> list[tuple[str, Mode]]:
    """Modes present, berthing first then classic: columns never swap between runs."""
    found = results.get("modes") or {}
    names = [m for m in MODE_ORDER if m in found] + [m for m in found if m not in MODE_ORDER]
    return [(name, found[name]) for name in names if isinstance(found[name], Mapping)]


def _at(mode: Mode, *keys: str) -> Any:
    """``mode[k1][k2]...`` or None if any step is missing: one absent field costs one cell."""
    cur: Any = mode
    for key in keys:
        if not isinstance(cur, Mapping) or key not in cur:
            return None
        cur = cur[key]
    return cur


def _number(value: Any) -> float | None:
    """A finite number or None; bools are not counts."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _classes(names: Iterable[str]) -> list[str]:
    """Resource classes in reading order: the standard three first, custom ones after."""
    seen = set(names)
    return [c for c in CLASS_ORDER if c in seen] + sorted(seen - set(CLASS_ORDER))


def _mode_classes(modes: Sequence[tuple[str, Mode]], key: str) -> list[str]:
    names: list[str] = []
    for _, mode in modes:
        values = _at(mode, key)
        if isinstance(values, Mapping):
            names.extend(str(k) for k in values)
    return _classes(names)


# --- formatting ------------------------------------------------------------------------


def _count(value: Any) -> str:
    n = _number(value)
    return MISSING if n is None else f"{round(n):,}"


def _decimal(digits: int) -> Callable[[Any], str]:
    def fmt(value: Any) -> str:
        n = _number(value)
        return MISSING if n is None else f"{n:,.{digits}f}"

    return fmt


def _percent(value: Any) -> str:
    n = _number(value)
    return MISSING if n is None else f"{n * 100:.1f}"


def _length(value: Any) -> str:
    return f"{len(value):,}" if isinstance(value, list | tuple) else MISSING


def _cell(fmt: Callable[[Any], str], *keys: str) -> Getter:
    def get(mode: Mode) -> str:
        return fmt(_at(mode, *keys))

    return get


# --- the table -------------------------------------------------------------------------


def _specs(modes: Sequence[tuple[str, Mode]]) -> list[tuple[str, Getter]]:
    """Every row of the comparison, in the order a reader asks the questions."""
    ms = _decimal(2)
    specs: list[tuple[str, Getter]] = [
        ("placements", _cell(_count, "placements")),
        ("placements/s", _cell(_decimal(1), "placements_per_second")),
        ("scheduling latency p50 (ms)", _cell(ms, "latency_ms", "p50")),
        ("scheduling latency p99 (ms)", _cell(ms, "latency_ms", "p99")),
        ("conflicts (lost claims in the scheduler)", _cell(_count, "conflicts")),
        ("retries", _cell(_count, "retries")),
        ("failed builds", _cell(_count, "failed_builds")),
        *_optional(modes, "race_failures", "failed builds from races"),
        ("reschedules", _cell(_count, "reschedules")),
        ("errors (instances in ERROR)", _cell(_count, "errors")),
        ("no valid host", _cell(_count, "no_valid_host")),
    ]
    specs += [(f"{op}s", _cell(_count, "ops", op)) for op in ("boot", "delete", "resize")]
    specs.append(("skipped ops", _cell(_count, "ops", "skipped")))
    for key in ("utilization", "fragmentation"):
        specs += [(f"{key} {rc} (%)", _cell(_percent, key, rc)) for rc in _mode_classes(modes, key)]
    specs.append((AUDIT_ROW, _cell(_length, "audit_problems")))
    specs += _optional(modes, "unfinished", UNFINISHED_ROW)
    specs.append(("wall time (s)", _cell(_decimal(1), "wall_seconds")))
    return specs


def _optional(modes: Sequence[tuple[str, Mode]], key: str, label: str) -> list[tuple[str, Getter]]:
    """A row for a counter the schema does not promise, only where some mode reports it."""
    return [(label, _cell(_count, key))] if any(key in mode for _, mode in modes) else []


def _rows(modes: Sequence[tuple[str, Mode]]) -> list[Row]:
    """Label plus one formatted cell per mode: the text and HTML tables share these."""
    return [(label, [get(mode) for _, mode in modes]) for label, get in _specs(modes)]


def _is_bad(label: str, cell: str) -> bool:
    """A broken invariant or a lost operation must not hide in the table."""
    return label in (AUDIT_ROW, UNFINISHED_ROW) and cell not in ("0", MISSING)


def _summary(results: Mapping[str, Any]) -> str:
    """One line of the settings that change the outcome, for titles."""
    settings = results.get("settings") or {}
    parts = []
    for key, fmt in (
        ("hosts", "{:,} hosts"),
        ("schedulers", "{} schedulers"),
        ("requests", "{:,} requests"),
        ("seed", "seed {}"),
        ("failure_rate", "failure rate {:.1%}"),
        ("store", "store {}"),
    ):
        if key in settings:
            try:
                parts.append(fmt.format(settings[key]))
            except (TypeError, ValueError):
                parts.append(f"{key} {settings[key]}")
    return ", ".join(parts)


def render_text(results: Mapping[str, Any]) -> Group:
    """Settings line, comparison table and verdict, as one ``console.print`` argument.

    The settings line is its own ``Text`` rather than the table's title, which rich
    would wrap to the table's width. Cells are ``Text``, never markup: a store URL such
    as ``sqlite:///[x].db`` must print as written, not be eaten as a style tag.
    """
    modes = _modes(results)
    title = "berthing demo" + (f": {s}" if (s := _summary(results)) else "")
    table = Table()
    table.add_column("")
    for name, _ in modes:
        table.add_column(Text(name), justify="right")
    for label, cells in _rows(modes):
        bold = "bold" if label in KEY_ROWS else ""
        styled = [Text(c, style="bold red" if _is_bad(label, c) else bold) for c in cells]
        table.add_row(Text(label, style=bold), *styled)
    return Group(Text(title), table, Text(verdict(results), style="bold"))


# --- the verdict -----------------------------------------------------------------------


def _retry_rate(mode: Mode) -> float | None:
    """Retries per 1,000 placements: the modes place different counts, so raw totals lie."""
    placements, retries = _number(_at(mode, "placements")), _number(_at(mode, "retries"))
    if placements is None or retries is None or placements <= 0:
        return None
    return retries * 1000 / placements


def _rate_text(rate: float | None) -> str:
    if rate is None:
        return "n/a"
    if rate == 0:
        return "0"
    return f"{rate:.2g}" if rate < 0.1 else f"{rate:,.1f}"


def _times(ratio: float) -> str:
    return f"{ratio:,.0f}x" if ratio >= 10 else f"{ratio:.1f}x"


def _compare(b: float | None, c: float | None) -> str:
    """berthing's rate against classic's, with the ratio only where one is defined."""
    pair = f"{RATE_LABEL}: berthing {_rate_text(b)} vs classic {_rate_text(c)}"
    if b is None or c is None:
        return f"{pair} (a mode placed nothing: no rate to compare)"
    if b == 0 and c == 0:
        return f"{RATE_LABEL}: none in either mode"
    if b == 0:
        return f"{pair} (none with berthing)"
    if c == 0:
        return f"{pair} (none with classic)"
    if b < c:
        return f"{pair} ({_times(c / b)} fewer with berthing)"
    if b > c:
        return f"{pair} ({_times(b / c)} more with berthing)"
    return f"{pair} (the same)"


def _audit_clause(modes: Sequence[tuple[str, Mode]]) -> str:
    """A run that broke an invariant has numbers nobody should quote: say so in the verdict."""
    bad = [
        f"{name} {len(problems)}"
        for name, mode in modes
        if isinstance(problems := _at(mode, "audit_problems"), list | tuple) and problems
    ]
    return f"; AUDIT FAILED (problems: {', '.join(bad)})" if bad else ""


def verdict(results: Mapping[str, Any]) -> str:
    """One line answering the seed's claim about retries, computed from the numbers."""
    modes = _modes(results)
    found = dict(modes)
    if not modes:
        return "no mode was run: nothing to compare"
    if "berthing" in found and "classic" in found:
        line = _compare(_retry_rate(found["berthing"]), _retry_rate(found["classic"]))
    else:
        rates = ", ".join(f"{name} {_rate_text(_retry_rate(mode))}" for name, mode in modes)
        line = f"{RATE_LABEL}: {rates} (only one side ran: nothing to compare)"
    return line + _audit_clause(modes)


# --- JSON ------------------------------------------------------------------------------


def write_json(results: Mapping[str, Any], path: Path) -> Path:
    """The raw results, so two runs can be compared later without re-running either.

    ``default=str`` keeps a stray Path or enum in ``settings`` from losing a long run.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
    return path


# --- plots -----------------------------------------------------------------------------


def _style(name: str, index: int) -> tuple[str, str]:
    return MODE_STYLES.get(name, EXTRA_STYLES[index % len(EXTRA_STYLES)])


def _timeline(mode: Mode) -> list[Mapping[str, Any]]:
    points = _at(mode, "timeline")
    if not isinstance(points, list):
        return []
    return [p for p in points if isinstance(p, Mapping) and _number(p.get("t")) is not None]


def _series(points: Sequence[Mapping[str, Any]], *keys: str, scale: float = 1.0) -> list[float]:
    """One value per timeline point; a missing value is NaN, which matplotlib leaves as a gap."""
    out = []
    for point in points:
        n = _number(_at(point, *keys))
        out.append(math.nan if n is None else n * scale)
    return out


def _no_data(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="gray")
    ax.set_xticks([])
    ax.set_yticks([])


def _legend(fig: Figure, axes: Sequence[Axes]) -> None:
    """One legend for the whole figure, below the panels, so no line hides under it.

    Below, not above: constrained layout does not make room for both a suptitle and
    an "outside upper" legend, and the two overlap.
    """
    for ax in axes:
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            fig.legend(handles, labels, loc="outside lower center", ncols=len(handles))
            return


def _utilization_figure(modes: Sequence[tuple[str, Mode]]) -> Figure:
    """One panel per resource class, modes overlaid: the comparison is within a panel."""
    from matplotlib.figure import Figure

    names = [str(k) for _, m in modes for p in _timeline(m) for k in (p.get("utilization") or {})]
    classes = _classes(names) or ["(none)"]
    ncols = min(3, len(classes))
    nrows = math.ceil(len(classes) / ncols)
    fig = Figure(figsize=(4.0 * ncols, 2.8 * nrows + 0.9), layout="constrained")
    grid = fig.subplots(nrows, ncols, squeeze=False, sharex=True)
    axes: list[Axes] = list(grid.flat)
    # The grid may have more panels than classes: the spare ones are hidden below.
    for ax, rc in zip(axes, classes, strict=False):
        _utilization_panel(ax, modes, rc)
    for ax in axes[len(classes) :]:
        ax.set_visible(False)
    for ax in grid[:, 0]:
        ax.set_ylabel("used (% of capacity)")
    for ax in axes[len(classes) - ncols : len(classes)]:
        ax.set_xlabel("time since start (s)")
        ax.xaxis.set_tick_params(labelbottom=True)
    fig.suptitle("Utilization over time, per resource class")
    _legend(fig, axes)
    return fig


def _utilization_panel(ax: Axes, modes: Sequence[tuple[str, Mode]], rc: str) -> None:
    drawn = False
    for i, (name, mode) in enumerate(modes):
        points = _timeline(mode)
        if not points:
            continue
        colour, dash = _style(name, i)
        t = _series(points, "t")
        ax.plot(t, _series(points, "utilization", rc, scale=100), color=colour, ls=dash, label=name)
        drawn = True
    ax.set_title(rc, fontsize="medium")
    if drawn:
        ax.set_ylim(-2, 102)  # a class at 0% or 100% must not vanish into the frame
        ax.grid(alpha=0.3)
    else:
        _no_data(ax, "no timeline recorded")


def _latencies(mode: Mode) -> list[float]:
    values = _at(mode, "latencies_ms")
    if not isinstance(values, list):
        return []
    return [v for v in map(_number, values) if v is not None and v >= 0]


def _latency_figure(modes: Sequence[tuple[str, Mode]]) -> Figure:
    """Histograms on log-spaced bins: a lock wait is orders of magnitude above the median."""
    import numpy as np
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(11, 4.2), layout="constrained")
    ax = fig.subplots()
    data = [(name, i, _latencies(mode), mode) for i, (name, mode) in enumerate(modes)]
    everything = [v for _, _, values, _ in data for v in values if v > 0]
    ax.set_title("Scheduling latency: every scheduling call")
    if not everything:
        _no_data(ax, "no latencies recorded")
        return fig
    low, high = min(everything), max(everything)
    bins = np.geomspace(low, high if high > low else low * 10, 60)
    for name, i, values, mode in data:
        if values:
            _latency_hist(ax, name, i, np.clip(values, low, None), mode, bins)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # 0.1, not 10^-1
    ax.set_xlabel("latency per scheduling call (ms, log scale)")
    ax.set_ylabel("scheduling calls per bin")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper right", fontsize="small")
    return fig


def _latency_hist(ax: Axes, name: str, i: int, values: Any, mode: Mode, bins: Any) -> None:
    colour, dash = _style(name, i)
    label = f"{name} ({len(values):,} calls)"
    ax.hist(values, bins=bins, histtype="step", lw=1.8, color=colour, ls=dash, label=label)
    p99 = _number(_at(mode, "latency_ms", "p99"))
    if p99 is not None and p99 > 0:
        ax.axvline(p99, color=colour, ls=":", lw=1.2, label=f"{name} p99 = {p99:,.2f} ms")


#: Counters drawn over time: where each design pays for a race.
RACE_COUNTERS = (
    ("conflicts", "Conflicts (lost claims in the scheduler)"),
    ("retries", "Retries"),
    ("failed_builds", "Failed builds"),
)


def _races_figure(modes: Sequence[tuple[str, Mode]]) -> Figure:
    """Cumulative counters: the slope shows whether races grow as the cloud fills."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 3.9), layout="constrained")
    axes: list[Axes] = list(fig.subplots(1, len(RACE_COUNTERS), squeeze=False).flat)
    for ax, (key, title) in zip(axes, RACE_COUNTERS, strict=True):
        _counter_panel(ax, modes, key)
        ax.set_title(title, fontsize="medium")
        ax.set_xlabel("time since start (s)")
    axes[0].set_ylabel("count (cumulative)")
    fig.suptitle("Races over time: conflicts, retries and failed builds")
    _legend(fig, axes)
    return fig


def _counter_panel(ax: Axes, modes: Sequence[tuple[str, Mode]], key: str) -> None:
    drawn = False
    for i, (name, mode) in enumerate(modes):
        points = _timeline(mode)
        if points:
            colour, dash = _style(name, i)
            t, y = _series(points, "t"), _series(points, key)
            ax.plot(t, y, color=colour, ls=dash, lw=1.8, drawstyle="steps-post", label=name)
            drawn = True
    if drawn:
        _count_axis(ax)
        ax.grid(alpha=0.3)
    else:
        _no_data(ax, "no timeline recorded")


def _count_axis(ax: Axes) -> None:
    """Whole-number ticks, and zero just above the frame: a mode with no failures at all
    is the interesting line, and must not hide under the x-axis."""
    from matplotlib.ticker import MaxNLocator

    top = max(ax.get_ylim()[1], 1.0)
    ax.set_ylim(-0.03 * top, top)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def _png(fig: Figure) -> str:
    """Base64 PNG through an explicit Agg canvas: no pyplot, no global backend, no display."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _plots(modes: Sequence[tuple[str, Mode]]) -> list[tuple[str, str]]:
    """(alt text, base64 PNG) for each plot, in the order the page shows them."""
    return [
        ("Utilization over time per resource class", _png(_utilization_figure(modes))),
        ("Histogram of scheduling latency per call", _png(_latency_figure(modes))),
        ("Cumulative conflicts, retries and failed builds", _png(_races_figure(modes))),
    ]


# --- HTML ------------------------------------------------------------------------------

CSS = """
body { font: 15px/1.45 system-ui, sans-serif; color: #222; max-width: 1200px;
       margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
.verdict { font-size: 1.15em; font-weight: 600; background: #eef4fb;
           border-left: 4px solid #1f77b4; padding: 0.6em 0.9em; }
.verdict.bad { background: #fdecea; border-color: #c62828; }
pre { background: #f5f5f5; padding: 0.6em; overflow-x: auto; white-space: pre-wrap; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { padding: 0.25em 0.8em; border-bottom: 1px solid #ddd; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.key td { font-weight: 600; }
td.bad { color: #c62828; font-weight: 700; }
.facts { display: flex; gap: 3em; flex-wrap: wrap; }
figure { margin: 1.5em 0; }
figure img { width: 100%; height: auto; border: 1px solid #eee; }
"""

_esc = html.escape


def _fact(value: Any) -> str:
    """Lists as people write them (``berthing, classic``), not as Python reprs them."""
    return ", ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)


def _facts_table(title: str, facts: Any) -> str:
    if not isinstance(facts, Mapping) or not facts:
        return ""
    rows = "".join(
        f"<tr><th>{_esc(str(k))}</th><td>{_esc(_fact(v))}</td></tr>" for k, v in facts.items()
    )
    return f"<div><h3>{_esc(title)}</h3><table>{rows}</table></div>"


def _results_table(modes: Sequence[tuple[str, Mode]]) -> str:
    head = "".join(f'<th class="num">{_esc(name)}</th>' for name, _ in modes)
    body = []
    for label, cells in _rows(modes):
        tds = "".join(
            f'<td class="num{" bad" if _is_bad(label, c) else ""}">{_esc(c)}</td>' for c in cells
        )
        key = ' class="key"' if label in KEY_ROWS else ""
        body.append(f"<tr{key}><td>{_esc(label)}</td>{tds}</tr>")
    return f"<table><tr><th></th>{head}</tr>{''.join(body)}</table>"


def _audit_list(modes: Sequence[tuple[str, Mode]]) -> str:
    """Each problem verbatim: a count alone tells nobody where to look."""
    items = [
        f"<li>{_esc(name)}: {_esc(str(p))}</li>"
        for name, mode in modes
        for p in (_at(mode, "audit_problems") or [])
    ]
    return f"<h3>Audit problems</h3><ul>{''.join(items)}</ul>" if items else ""


def _figures_html(plots: Sequence[tuple[str, str]]) -> str:
    return "".join(
        f'<figure><img src="data:image/png;base64,{data}" alt="{_esc(alt)}"></figure>'
        for alt, data in plots
    )


def _page(results: Mapping[str, Any], plots: Sequence[tuple[str, str]]) -> str:
    modes = _modes(results)
    line = verdict(results)
    bad = " bad" if "AUDIT FAILED" in line else ""
    title = "berthing demo: " + (" vs ".join(name for name, _ in modes) or "no modes")
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        f"<title>{_esc(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{_esc(title)}</h1><p>{_esc(_summary(results))}</p>",
        f'<p class="verdict{bad}">{_esc(line)}</p>',
        f"<h2>Command</h2><pre>{_esc(str(results.get('command', MISSING)))}</pre>",
        '<div class="facts">',
        _facts_table("Machine", results.get("machine")),
        _facts_table("Settings", results.get("settings")),
        "</div><h2>Results</h2>",
        _results_table(modes),
        _audit_list(modes),
        "<h2>Plots</h2>",
        _figures_html(plots),
        "</body></html>\n",
    ]
    return "\n".join(parts)


def render_html(results: Mapping[str, Any], path: Path) -> Path:
    """One self-contained page (plots as data URIs) that can be mailed or attached as is.

    Every string from the results is escaped: the command line and store URL come from
    the user, and a report must not run what it quotes.
    """
    page = _page(results, _plots(_modes(results)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
