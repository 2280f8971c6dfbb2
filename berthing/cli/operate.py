"""The operator's commands, over the native API: ``berthing server|host|group|zone ...``
and ``berthing explain``. They parse arguments, call ``client.Client`` and print
(``render``); what a server, host or group is and may do is the API's business."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from berthing.api.native.schemas import BootAccepted, BootRequest, GroupCreate, ServerView
from berthing.cli import render
from berthing.cli.client import Client, ClientError, resolve_target
from berthing.cli.services import parse_resources

__all__ = ["add_commands"]

Action = Callable[[Client, argparse.Namespace, render.Printer], int]
DONE = ("ACTIVE", "ERROR", "DELETED")
POLL = 0.2


def _connection_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", help="the server (default: $BERTHING_URL, else the config)")
    common.add_argument("--token", help="the token to send (default: $BERTHING_TOKEN, ...)")
    common.add_argument("--config", help="berthing serve's TOML file ([client], [server])")
    common.add_argument("--format", choices=("table", "json"), default="table")
    common.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for each answer (30)"
    )
    return common


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = _connection_options()
    _add_servers(sub, common)
    explain = sub.add_parser(
        "explain",
        parents=[common],
        help="dry run: would this request fit, where, and if not why (claims nothing)",
        description="Ask the scheduler whether a request would fit, without claiming "
        "anything: how many hosts each constraint rules out, and where it would go.",
    )
    _request_options(explain)
    explain.set_defaults(run=_runner(_explain))
    _add_hosts(sub, common)
    _add_groups(sub, common)
    _add_zones(sub, common)


def _runner(action: Action) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        target = resolve_target(args.url, args.token, args.config)
        with Client(target, timeout=args.timeout) as client:
            return action(client, args, render.Printer(args.format))

    return run


def _group(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, text: str
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    parser = sub.add_parser(name, help=text, description=text)
    return parser.add_subparsers(dest="action", required=True)


def _verb(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
    name: str,
    text: str,
    action: Action,
) -> argparse.ArgumentParser:
    parser = verbs.add_parser(name, parents=[common], help=text, description=text)
    parser.set_defaults(run=_runner(action))
    return parser


# -- servers -----------------------------------------------------------------------------


def _add_servers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    verbs = _group(sub, "server", "servers (instances): boot, list, show, delete, resize")
    boot = _verb(verbs, common, "boot", "boot servers", _boot)
    _request_options(boot)
    boot.add_argument("--name", default="", help="a name to list it by")
    boot.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait for ACTIVE or ERROR; exit 1 on ERROR, 2 if still not done (and why)",
    )
    listing = _verb(verbs, common, "list", "list servers (deleted ones only with --state)", _list)
    listing.add_argument("--state", help="ACTIVE, ERROR, BUILDING, PENDING, DELETED...")
    listing.add_argument("--host", help="only those on this host (name or uuid)")
    listing.add_argument("--project", help="administrators: only this project's")
    listing.add_argument("--limit", type=int, default=100, help="servers per page (100)")
    listing.add_argument("--marker", help="start after this server uuid (paging)")
    listing.add_argument("--all", action="store_true", help="follow every page")
    listing.add_argument("-q", "--quiet", action="store_true", help="only uuids, one a line")
    show = _verb(verbs, common, "show", "a server: state, host, allocations, events", _show)
    show.add_argument("uuid")
    delete = _verb(verbs, common, "delete", "delete a server", _delete)
    delete.add_argument("uuid")
    resize = _verb(verbs, common, "resize", "resize a server, in place or by moving it", _resize)
    resize.add_argument("uuid")
    resize.add_argument("resources", help="the new amounts, e.g. VCPU=4,MEMORY_MB=8192")


def _request_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("resources", help="amounts per class, e.g. VCPU=2,MEMORY_MB=4096,DISK_GB=20")
    p.add_argument("--count", type=int, default=1, help="servers, all or nothing (1)")
    p.add_argument("--shared", default="", help="from a sharing pool, e.g. DISK_GB=100")
    p.add_argument("--trait", action="append", default=[], help="required trait (repeatable)")
    p.add_argument("--forbid", action="append", default=[], help="forbidden trait (repeatable)")
    p.add_argument("--az", help="availability zone")
    p.add_argument("--group", help="server group uuid")
    p.add_argument("--same-host", action="append", default=[], help="with this server (uuid)")
    p.add_argument("--different-host", action="append", default=[], help="apart from this one")
    p.add_argument("--project", help="administrators: for this project")


def _request(args: argparse.Namespace) -> BootRequest:
    return BootRequest(
        resources=parse_resources(args.resources),
        name=getattr(args, "name", ""),
        count=args.count,
        shared_resources=parse_resources(args.shared),
        required_traits=args.trait,
        forbidden_traits=args.forbid,
        availability_zone=args.az,
        server_group=args.group,
        same_host=args.same_host,
        different_host=args.different_host,
        project_id=args.project,
    )


def _boot(client: Client, args: argparse.Namespace, out: render.Printer) -> int:
    accepted = client.boot(_request(args))
    if args.wait <= 0:
        out.show(accepted, f"submitted {accepted.request}", *accepted.servers)
        out.say(f"follow it: berthing server show {accepted.servers[0]}")
        return 0
    views = _wait(client, accepted, args.wait)
    out.show(views, render.servers(views))
    unfinished = [v for v in views if v.state not in DONE]
    if unfinished:
        raise ClientError(
            f"Server {unfinished[0].uuid} is still {unfinished[0].state} after {args.wait:g}s: "
            + _why_unfinished(client, unfinished[0]),
            hint=f"Follow it with: berthing server show {unfinished[0].uuid}",
        )
    failed = [v for v in views if v.state == "ERROR"]
    for v in failed:
        print(f"berthing: error: server {v.uuid} failed: {v.error}", file=sys.stderr)
    return 1 if failed else 0


def _wait(client: Client, accepted: BootAccepted, seconds: float) -> list[ServerView]:
    deadline = time.monotonic() + seconds
    while True:
        views = [client.server(uuid) for uuid in accepted.servers]
        left = deadline - time.monotonic()
        if all(v.state in DONE for v in views) or left <= 0:
            return views
        time.sleep(min(POLL, left))


def _why_unfinished(client: Client, view: ServerView) -> str:
    """The likeliest reason, from what the server can tell."""
    if view.state == "PENDING":
        problems = client.readiness().problems
        seen = f"the server reports: {'; '.join(problems)}" if problems else "none has been seen"
        return (
            f"no conductor has taken its request ({seen}). berthing serve runs the "
            "conductors of its cell unless started with --conductors 0."
        )
    if view.state in ("SCHEDULED", "BUILDING") and view.host_name:
        state = client.host(view.host or view.host_name).state
        return (
            f"host {view.host_name} ({state}) has not built it yet; its agent must run "
            "for a build to finish."
        )
    return "its conductor is still working on it (a busy cell, or many reschedules)."


def _list(client: Client, args: argparse.Namespace, out: render.Printer) -> int:
    filters = {"state": args.state, "host": args.host, "project_id": args.project}
    page = client.servers(**filters, limit=args.limit, marker=args.marker)
    views = list(page.servers)
    while args.all and page.next_marker:
        page = client.servers(**filters, limit=args.limit, marker=page.next_marker)
        views += page.servers
    if args.quiet:
        print("\n".join(v.uuid for v in views))
        return 0
    out.show(page if not args.all else views, render.servers(views))
    if page.next_marker and not args.all:
        out.say(f"more: --marker {page.next_marker} (or --all)")
    return 0


def _show(client: Client, args: argparse.Namespace, out: render.Printer) -> int:
    view = client.server(args.uuid)
    out.show(view, *render.server(view))
    return 0


def _delete(client: Client, args: argparse.Namespace, out: render.Printer) -> int:
    client.delete_server(args.uuid)
    out.show({"deleted": args.uuid}, f"deleting {args.uuid}")
    return 0


def _resize(client: Client, args: argparse.Namespace, out: render.Printer) -> int:
    done = client.resize(args.uuid, parse_resources(args.resources))
    out.show(done, f"resized {done.uuid} to {args.resources} on host {done.host}")
    return 0


def _explain(client: Client, args: argparse.Namespace, out: render.Printer) -> int:
    result = client.explain(_request(args))
    out.show(result, *render.explanation(result))
    return 0


# -- hosts, server groups, zones -----------------------------------------------------------


def _add_hosts(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    verbs = _group(sub, "host", "hosts: capacity, usage, state; disable and enable")
    listing = _verb(verbs, common, "list", "hosts with capacity, usage and state", _hosts)
    listing.add_argument("--state", choices=("up", "down", "disabled"), help="only these")
    listing.add_argument("-q", "--quiet", action="store_true", help="only names, one a line")
    _verb(verbs, common, "show", "a host (by name or uuid)", _host).add_argument("host")
    disable = _verb(verbs, common, "disable", "take a host out of scheduling", _disable)
    disable.add_argument("host")
    disable.add_argument("--reason", required=True, help="why (shown in host list)")
    _verb(verbs, common, "enable", "schedule on a host again", _enable).add_argument("host")


def _hosts(client: Client, args: argparse.Namespace, out: render.Printer) -> int:
    found = client.hosts()
    views = [h for h in found.hosts if args.state is None or h.state == args.state]
    if args.quiet:
        print("\n".join(h.name for h in views))
        return 0
    out.show(views, render.hosts(views))
    return 0


def _host(client: Client, args: argparse.Namespace, out: render.Printer) -> int:
    view = client.host(args.host)
    out.show(view, *render.host(view))
    return 0


def _disable(client: Client, args: argparse.Namespace, out: render.Printer) -> int:
    view = client.disable_host(args.host, args.reason)
    out.show(view, f"{view.name}: {view.state} ({view.disabled_reason})")
    return 0


def _enable(client: Client, args: argparse.Namespace, out: render.Printer) -> int:
    view = client.enable_host(args.host)
    out.show(view, f"{view.name}: {view.state}")
    return 0


def _add_groups(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    verbs = _group(sub, "group", "server groups: (anti-)affinity between servers")
    _verb(verbs, common, "list", "server groups", _groups)
    create = _verb(verbs, common, "create", "create a server group", _create_group)
    create.add_argument(
        "--policy",
        required=True,
        help="affinity, anti-affinity, soft-affinity or soft-anti-affinity",
    )
    create.add_argument("--name", default="")
    create.add_argument(
        "--max-per-host", type=int, default=1, help="anti-affinity: servers per host (1)"
    )
    _verb(verbs, common, "show", "a server group", _show_group).add_argument("uuid")
    _verb(verbs, common, "delete", "delete a server group", _delete_group).add_argument("uuid")


def _groups(client: Client, args: argparse.Namespace, out: render.Printer) -> int:
    views = client.groups()
    out.show(views, render.groups(views))
    return 0


def _create_group(client: Client, args: argparse.Namespace, out: render.Printer) -> int:
    request = GroupCreate(policy=args.policy, name=args.name, max_server_per_host=args.max_per_host)
    view = client.create_group(request)
    out.show(view, render.groups([view]))
    return 0


def _show_group(client: Client, args: argparse.Namespace, out: render.Printer) -> int:
    view = client.group(args.uuid)
    members = "\n".join(f"  {server} on {host}" for server, host in view.members.items())
    out.show(view, render.groups([view]), f"members:\n{members}" if members else "no members")
    return 0


def _delete_group(client: Client, args: argparse.Namespace, out: render.Printer) -> int:
    client.delete_group(args.uuid)
    out.show({"deleted": args.uuid}, f"deleted server group {args.uuid}")
    return 0


def _add_zones(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    verbs = _group(sub, "zone", "availability zones: named aggregates of hosts")
    _verb(verbs, common, "list", "availability zones and their hosts", _zones)
    put = _verb(verbs, common, "set", "map a zone name to an aggregate (uuid)", _set_zone)
    put.add_argument("name")
    put.add_argument("aggregate")
    _verb(verbs, common, "delete", "delete a zone", _delete_zone).add_argument("name")


def _zones(client: Client, args: argparse.Namespace, out: render.Printer) -> int:
    found = client.zones()
    out.show(found, render.zones(found.availability_zones))
    return 0


def _set_zone(client: Client, args: argparse.Namespace, out: render.Printer) -> int:
    view = client.set_zone(args.name, args.aggregate)
    out.show(view, render.zones([view]))
    return 0


def _delete_zone(client: Client, args: argparse.Namespace, out: render.Printer) -> int:
    client.delete_zone(args.name)
    out.show({"deleted": args.name}, f"deleted availability zone {args.name}")
    return 0
