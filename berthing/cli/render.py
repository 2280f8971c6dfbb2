"""How the operator's commands print what the API returns: readable tables, or the
API's own JSON with ``--format json`` (for scripts and ``jq``)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Mapping

import msgspec
from rich.console import Console
from rich.table import Table
from rich.text import Text

from berthing.api.native.schemas import (
    Explanation,
    GroupView,
    HostView,
    ServerView,
    ZoneView,
)

__all__ = [
    "Printer",
    "explanation",
    "groups",
    "host",
    "hosts",
    "resources",
    "server",
    "servers",
    "zones",
]

#: Width when the output is not a terminal: rows of uuids must not be cut for a pipe.
PIPE_WIDTH = 200


class Printer:
    """Prints tables for people, or JSON when ``--format json``."""

    def __init__(self, fmt: str) -> None:
        self.json = fmt == "json"
        console = Console(highlight=False)
        self.console = console if console.is_terminal else Console(width=PIPE_WIDTH)

    def show(self, value: object, *tables: Table | str) -> None:
        """``value`` as JSON, or else ``tables`` (and lines) for people."""
        if self.json:
            sys.stdout.write(
                msgspec.json.format(msgspec.json.encode(value), indent=2).decode() + "\n"
            )
            return
        for table in tables:
            self.console.print(table, markup=False)

    def say(self, line: str) -> None:
        """A line for people only (JSON output stays one document)."""
        if not self.json:
            self.console.print(line, markup=False)


def _table(*columns: str, title: str | None = None) -> Table:
    table = Table(*columns, title=title, title_justify="left", box=None, header_style="bold")
    for column in table.columns:
        column.no_wrap = True
    return table


def _add(table: Table, *cells: str) -> None:
    """A row of plain text: names and reasons may hold brackets, which are not markup."""
    table.add_row(*(Text(cell) for cell in cells))


def resources(amounts: Mapping[str, int]) -> str:
    return " ".join(f"{rc}={n}" for rc, n in amounts.items())


def _summed(allocations: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for per in allocations.values():
        for rc, n in per.items():
            total[rc] = total.get(rc, 0) + n
    return total


def _age(at: float) -> str:
    seconds = max(0, int(time.time() - at))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def servers(views: Iterable[ServerView]) -> Table:
    table = _table("UUID", "NAME", "STATE", "HOST", "RESOURCES", "AGE", "ERROR")
    for v in views:
        _add(
            table,
            v.uuid,
            v.name,
            v.state,
            v.host_name or "",
            resources(_summed(v.allocations)),
            _age(v.created),
            v.error,
        )
    return table


def server(v: ServerView) -> list[Table]:
    facts = _table("FIELD", "VALUE")
    for name, value in (
        ("uuid", v.uuid),
        ("name", v.name),
        ("state", v.state),
        ("host", f"{v.host_name} ({v.host})" if v.host else ""),
        ("project", v.project_id),
        ("user", v.user_id),
        ("request", v.request),
        ("attempts", str(v.attempts)),
        ("error", v.error),
    ):
        _add(facts, name, value)
    allocations = _table("PROVIDER", "RESOURCES", title="allocations")
    for provider, amounts in v.allocations.items():
        _add(allocations, provider, resources(amounts))
    events = _table("WHEN", "WHAT", "HOST", "DETAIL", title="events")
    for e in v.events:
        when = time.strftime("%H:%M:%S", time.localtime(e.at))
        _add(events, when, e.what, e.host, e.detail)
    return [facts, allocations, events]


def hosts(views: Iterable[HostView]) -> Table:
    table = _table("NAME", "STATE", "USED / CAPACITY", "INSTANCES", "REASON")
    for h in views:
        usage = " ".join(f"{rc}={h.used.get(rc, 0)}/{cap}" for rc, cap in h.capacity.items())
        _add(table, h.name, h.state, usage, str(h.num_instances), h.disabled_reason)
    return table


def host(h: HostView) -> list[Table]:
    facts = _table("FIELD", "VALUE")
    for name, value in (
        ("uuid", h.uuid),
        ("name", h.name),
        ("state", h.state),
        ("disabled reason", h.disabled_reason),
        ("instances", str(h.num_instances)),
        ("traits", " ".join(h.traits)),
        ("aggregates", " ".join(h.aggregates)),
    ):
        _add(facts, name, value)
    usage = _table("CLASS", "USED", "CAPACITY", title="resources")
    for rc, cap in h.capacity.items():
        _add(usage, rc, str(h.used.get(rc, 0)), str(cap))
    return [facts, usage]


def groups(views: Iterable[GroupView]) -> Table:
    table = _table("UUID", "NAME", "POLICY", "MAX PER HOST", "PROJECT", "MEMBERS")
    for g in views:
        _add(
            table,
            g.uuid,
            g.name,
            g.policy,
            str(g.max_server_per_host),
            g.project_id,
            str(len(g.members)),
        )
    return table


def zones(views: Iterable[ZoneView]) -> Table:
    table = _table("NAME", "AGGREGATE", "HOSTS")
    for z in views:
        _add(table, z.name, z.aggregate, str(z.hosts))
    return table


def explanation(e: Explanation) -> list[Table | str]:
    out: list[Table | str] = [("fits: " if e.fits else "does not fit: ") + e.summary]
    if e.rejected:
        rejected = _table("HOSTS", "RULED OUT BY", title="rejected")
        for reason, count in e.rejected.items():
            _add(rejected, str(count), reason)
        out.append(rejected)
    if e.destinations:
        out.append("would pick from, best first: " + ", ".join(e.destinations))
    out += [f"why: {reason}" for reason in e.reasons]
    return out
