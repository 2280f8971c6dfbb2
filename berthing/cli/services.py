"""Long-running services and their client: ``berthing agent``, ``berthing conductor``
and ``berthing boot``.

The agent's built-in driver records instances but starts no VM: berthing schedules,
a hypervisor driver builds. Plug one in with ``Agent(builder=...)``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time

from berthing.agent import Agent, HostDescription
from berthing.conductor import Conductor
from berthing.model import BuildRequest, BuildState, InvalidInput, Record, RequestSpec
from berthing.runtime import stop_on_signals
from berthing.scheduler import Scheduler, load_config
from berthing.store import Store, open_store

__all__ = ["add_agent", "add_boot", "add_conductor"]

log = logging.getLogger("berthing")


def add_agent(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", help="provider name (default: this machine's hostname)")
    p.add_argument("--cpu-ratio", type=float, default=4.0, help="VCPU allocation ratio (4.0)")
    p.add_argument(
        "--heartbeat",
        type=float,
        default=10.0,
        help="seconds between heartbeats; the host is down after 3 missed (10)",
    )
    p.add_argument(
        "--resync",
        type=float,
        default=600.0,
        help="seconds between full rewrites of the inventory (600)",
    )
    p.add_argument("--once", action="store_true", help="register, handle pending work, exit")
    p.set_defaults(run=run_agent)


def run_agent(args: argparse.Namespace) -> int:
    with open_store(args.store) as store:
        host = HostDescription.from_machine(args.name, cpu_ratio=args.cpu_ratio)
        agent = Agent(store, host, heartbeat_ttl=3 * args.heartbeat)
        provider = agent.register()
        log.info(
            "registered %s (%s): %s",
            host.name,
            provider.uuid,
            {rc: i.capacity for rc, i in host.inventories.items()},
        )
        if args.once:
            agent.poll(timeout=0)
            return 0
        stop = threading.Event()
        stop_on_signals(stop)
        agent.run(stop, resync_every=args.resync)
        return 0


def add_conductor(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cell", default="cell1", help="the cell whose requests to drive (cell1)")
    p.add_argument("--config", help="scheduler TOML file (see README)")
    p.add_argument(
        "--reap-every",
        type=float,
        default=10.0,
        help="seconds between checks for hosts that stopped heartbeating (10)",
    )
    p.set_defaults(run=run_conductor)


def run_conductor(args: argparse.Namespace) -> int:
    with open_store(args.store) as store:
        conductor = Conductor(store, Scheduler(store, load_config(args.config)), cell=args.cell)
        log.info("%s driving %s", conductor.name, args.cell)
        stop = threading.Event()
        stop_on_signals(stop)
        conductor.run(stop, reap_every=args.reap_every)
        return 0


def add_boot(p: argparse.ArgumentParser) -> None:
    p.add_argument("resources", help="amounts, e.g. VCPU=2,MEMORY_MB=4096,CUSTOM_GPU=1")
    p.add_argument("--count", type=int, default=1, help="instances, all or nothing (1)")
    p.add_argument("--trait", action="append", default=[], help="required trait (repeatable)")
    p.add_argument("--forbid", action="append", default=[], help="forbidden trait (repeatable)")
    p.add_argument("--az", help="availability zone")
    p.add_argument("--group", help="server group uuid")
    p.add_argument("--cell", default="cell1", help="cell to submit to (cell1)")
    p.add_argument(
        "--wait",
        type=float,
        default=0.0,
        help="seconds to wait for ACTIVE or ERROR (needs a running conductor)",
    )
    p.set_defaults(run=run_boot)


def parse_resources(text: str) -> dict[str, int]:
    out = {}
    for part in filter(None, text.split(",")):
        name, sep, amount = part.partition("=")
        if not sep or not amount.strip().isdigit():
            raise InvalidInput(
                f"Cannot read {part!r} as CLASS=AMOUNT.", hint="Write e.g. VCPU=2,MEMORY_MB=4096."
            )
        out[name.strip()] = int(amount)
    return out


def run_boot(args: argparse.Namespace) -> int:
    spec = RequestSpec(
        parse_resources(args.resources),
        num_instances=args.count,
        required_traits=frozenset(args.trait),
        forbidden_traits=frozenset(args.forbid),
        availability_zone=args.az,
        server_group=args.group,
    )
    with open_store(args.store) as store:
        key = Conductor(store, Scheduler(store), cell=args.cell).submit(spec)
        print(f"submitted {key}")
        rec = _wait(store, key, args.wait)
        if rec is None:
            return 1
        request = rec.value
        print(f"{request.state}: {request.error}".rstrip(": "))
        for iid, inst in request.instances.items():
            print(f"  {iid} on {inst.host_name}: {inst.step} {inst.error}".rstrip())
        if not request.state.terminal and args.wait:
            why = (
                f": no conductor of cell {args.cell} has taken it"
                if request.state is BuildState.PENDING
                else ""
            )
            print(
                f"berthing: error: still {request.state} after {args.wait:g}s{why}.\n"
                f"berthing: next: check that a conductor runs for cell {args.cell}"
                f" (berthing serve, or berthing conductor --cell {args.cell} --store ...).",
                file=sys.stderr,
            )
            return 1
        return 1 if request.state is BuildState.ERROR else 0


def _wait(store: Store, key: str, seconds: float) -> Record[BuildRequest] | None:
    deadline = time.monotonic() + seconds
    rec = store.get_record(BuildRequest, key)
    while rec is not None and not rec.value.state.terminal and time.monotonic() < deadline:
        time.sleep(0.1)
        rec = store.get_record(BuildRequest, key)
    return rec
