"""A benchmark's report: the command, the machine, every run, every target; rendered
as rich tables for the terminal, as markdown for the docs, and as JSON for tools."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from berthing.sim.bench.results import RunResult
from berthing.sim.bench.targets import Verdict

__all__ = ["COLUMNS", "Report"]

# (heading, how to show a run's figure), shared by the terminal and markdown tables.
COLUMNS: tuple[tuple[str, Any], ...] = (
    ("store", lambda r: r.store),
    ("providers", lambda r: f"{r.size:,}"),
    ("sched", lambda r: str(r.schedulers)),
    ("placements", lambda r: f"{r.placements:,}"),
    ("p50 ms", lambda r: f"{r.p50_ms:.2f}"),
    ("p99 ms", lambda r: f"{r.p99_ms:.2f}"),
    ("placements/s", lambda r: f"{r.placements_per_s:,.0f}"),
    ("conflicts/1k", lambda r: f"{r.conflicts_per_1k:.1f}"),
    ("retries/1k", lambda r: f"{r.retries_per_1k:.1f}"),
    ("no host", lambda r: str(r.no_valid_host)),
    ("RSS MB", lambda r: f"{r.peak_rss_mb:.0f}"),
    ("CPU busy", lambda r: f"{r.cpu_busy:.0%}"),
    ("CPU ms/place", lambda r: f"{r.cpu_ms_per_placement:.2f}"),
    ("other load", lambda r: "?" if r.other_cpu is None else f"{r.other_cpu:.0%}"),
    ("calib ms", lambda r: f"{r.calibration_ms:.0f}"),
    ("store CPU", lambda r: "-" if r.store_cpu is None else f"{r.store_cpu:.0%}"),
    ("full", lambda r: f"{r.fill_max:.1%}"),
    ("audit", lambda r: "ok" if not r.audit_problems else f"{len(r.audit_problems)} problems"),
)
PHASES = ("query", "claim", "records", "other")
COMPARISON = (
    "store",
    "providers",
    "sched",
    "SQLite placements/s",
    "placements/s",
    "/SQLite placements/s",
    "/SQLite p50",
    "/SQLite p99",
    "anchor/s, as many clients",
    "share of anchor",
)


@dataclass(frozen=True, slots=True)
class Report:
    command: str
    machine: dict[str, object]
    runs: Sequence[RunResult]
    verdicts: Sequence[Verdict]
    notes: list[str] = field(default_factory=list)
    anchors: Sequence[dict[str, Any]] = ()
    """Each remote engine's bare compare-and-set rates (``anchor.Anchor.to_dict``)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "machine": self.machine,
            "runs": [r.to_dict() for r in self.runs],
            "targets": [{**_verdict_dict(v), "margin": round(v.margin, 4)} for v in self.verdicts],
            "notes": self.notes,
            "anchors": list(self.anchors),
            "comparison": self.comparison(),
        }

    def comparison(self) -> list[dict[str, Any]]:
        """Per remote run with a SQLite twin (same size and schedulers): its figures over
        SQLite's, and its placements/s over its engine's anchor with as many clients as
        it had schedulers (None where that was not measured)."""
        sqlite = {(r.size, r.schedulers): r for r in self.runs if r.store == "sqlite"}
        rates = {a["engine"]: a["cas_per_s"] for a in self.anchors}
        out = []
        for e in self.runs:
            s = sqlite.get((e.size, e.schedulers))
            if e.store == "sqlite" or s is None:
                continue
            anchor = rates.get(e.store, {}).get(str(e.schedulers))
            out.append(
                {
                    "store": e.store,
                    "size": e.size,
                    "schedulers": e.schedulers,
                    "sqlite_per_s": s.placements_per_s,
                    "per_s": e.placements_per_s,
                    "rate_ratio": _ratio(e.placements_per_s, s.placements_per_s),
                    "p50_ratio": _ratio(e.p50_ms, s.p50_ms),
                    "p99_ratio": _ratio(e.p99_ms, s.p99_ms),
                    "anchor_per_s": anchor,
                    "anchor_share": None if anchor is None else _ratio(e.placements_per_s, anchor),
                }
            )
        return out

    def _comparison_rows(self) -> list[list[str]]:
        return [
            [
                c["store"],
                f"{c['size']:,}",
                str(c["schedulers"]),
                f"{c['sqlite_per_s']:,.0f}",
                f"{c['per_s']:,.0f}",
                f"{c['rate_ratio']:.2f}",
                f"{c['p50_ratio']:.1f}",
                f"{c['p99_ratio']:.1f}",
                "-" if c["anchor_per_s"] is None else f"{c['anchor_per_s']:,.0f}",
                "-" if c["anchor_share"] is None else f"{c['anchor_share']:.0%}",
            ]
            for c in self.comparison()
        ]

    def anchor_lines(self) -> list[str]:
        return [_anchor_line(a) for a in self.anchors]

    def write(self, json_path: Path | None, markdown_path: Path | None) -> None:
        if json_path is not None:
            json_path.parent.mkdir(parents=True, exist_ok=True)
            json_path.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        if markdown_path is not None:
            markdown_path.parent.mkdir(parents=True, exist_ok=True)
            markdown_path.write_text(self.markdown())

    # -- terminal ----------------------------------------------------------------------

    def show(self, console: Console) -> None:
        """The report, ending with the command that repeats it."""
        console.print(_machine_line(self.machine))
        console.print(self._runs_table())
        for line in self.anchor_lines():
            console.print(line)
        if self.anchors:
            console.print(self._comparison_table())
        console.print(self._phases_table())
        console.print(self._targets_table())
        for note in self.notes:
            console.print(f"[yellow]note:[/] {note}")
        console.print(f"[bold]command:[/] {self.command}")

    def _runs_table(self) -> Table:
        stores = " and ".join(dict.fromkeys(r.store for r in self.runs)) or "sqlite"
        table = Table(title=f"Scheduler benchmark ({stores})")
        for heading, _ in COLUMNS:
            table.add_column(heading, justify="right")
        for run in self.runs:
            table.add_row(*(show(run) for _, show in COLUMNS))
        return table

    def _comparison_table(self) -> Table:
        table = Table(title="Remote engines / SQLite and / their anchor, same clouds and streams")
        for heading in COMPARISON:
            table.add_column(heading, justify="right")
        for row in self._comparison_rows():
            table.add_row(*row)
        return table

    def _phases_table(self) -> Table:
        table = Table(title="Where a request's time goes (mean ms per request)")
        for heading in ("store", "providers", "schedulers", *PHASES, "waits/req", "preempted/req"):
            table.add_column(heading, justify="right")
        for r in self.runs:
            table.add_row(
                r.store,
                f"{r.size:,}",
                str(r.schedulers),
                *(f"{r.phases_ms.get(p, 0.0):.3f}" for p in PHASES),
                f"{r.switches['voluntary']:.2f}",
                f"{r.switches['involuntary']:.2f}",
            )
        return table

    def _targets_table(self) -> Table:
        table = Table(title="Targets")
        for heading in ("target", "run", "value", "limit", "verdict"):
            table.add_column(heading)
        for v in self.verdicts:
            verdict = "[green]met[/]" if v.met else "[red]missed[/]"
            table.add_row(
                v.target,
                f"{v.size:,} x {v.schedulers}",
                f"{v.value:,.2f} {v.unit}",
                f"{v.limit:,.0f} {v.unit}",
                f"{verdict} ({v.margin:+.0%})",
            )
        return table

    # -- markdown ----------------------------------------------------------------------

    def markdown(self) -> str:
        lines = [f"Command: `{self.command}`", "", _machine_line(self.machine), ""]
        lines += _md_table([h for h, _ in COLUMNS], [[s(r) for _, s in COLUMNS] for r in self.runs])
        lines.append("")
        for line in self.anchor_lines():
            lines += [line, ""]
        if self.anchors:
            lines += _md_table(list(COMPARISON), self._comparison_rows())
            lines.append("")
        phase_rows = [
            [
                r.store,
                f"{r.size:,}",
                str(r.schedulers),
                *(f"{r.phases_ms.get(p, 0.0):.3f}" for p in PHASES),
                f"{r.switches['voluntary']:.2f}",
                f"{r.switches['involuntary']:.2f}",
            ]
            for r in self.runs
        ]
        lines += _md_table(
            [
                "store",
                "providers",
                "schedulers",
                *(f"{p} ms" for p in PHASES),
                "waits/req",
                "preempted/req",
            ],
            phase_rows,
        )
        lines.append("")
        target_rows = [
            [
                v.target,
                f"{v.size:,} x {v.schedulers}",
                f"{v.value:,.2f} {v.unit}",
                ("met" if v.met else "**missed**") + f" ({v.margin:+.0%})",
            ]
            for v in self.verdicts
        ]
        lines += _md_table(["target", "run", "value", "verdict"], target_rows)
        return "\n".join(lines) + "\n"


def _anchor_line(anchor: dict[str, Any]) -> str:
    rates, p50 = anchor["cas_per_s"], anchor["p50_ms"]
    parts = [f"{n} client(s): {float(v):,.0f}/s (p50 {p50[n]:.1f} ms)" for n, v in rates.items()]
    return (
        f"{anchor['engine']} anchor, bare compare-and-set cycles ({anchor['cycle']}; one "
        f"process per client, own key, {anchor['seconds']:.0f} s each): " + ", ".join(parts)
    )


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def _machine_line(m: dict[str, object]) -> str:
    load = m.get("load_average")
    load_text = ", ".join(f"{x:.2f}" for x in load) if isinstance(load, list) else "?"
    return (
        f"Machine: {m['cpu_model']}, {m['cores']} cores ({m['usable_cores']} usable), "
        f"Python {m['python']}, SQLite {m['sqlite']}, {m['platform']}; "
        f"load average at start {load_text}"
    )


def _md_table(headings: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(headings) + " |", "|" + "---|" * len(headings)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def _verdict_dict(v: Verdict) -> dict[str, Any]:
    return {
        "target": v.target,
        "size": v.size,
        "schedulers": v.schedulers,
        "value": v.value,
        "limit": v.limit,
        "unit": v.unit,
        "met": v.met,
    }
