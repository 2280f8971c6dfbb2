"""``berthing serve``: parse the options, load the config, run the server and its cell."""

from __future__ import annotations

import argparse
import logging
import signal
import tempfile
from pathlib import Path
from types import FrameType

import msgspec
import uvicorn

from berthing.service import Health, build_app, load_config, metrics
from berthing.service.cell import Cell, CellSettings
from berthing.service.config import ServeConfig
from berthing.service.logs import FORMATS
from berthing.service.logs import configure as configure_logs
from berthing.store import Capability, open_store

__all__ = ["add_arguments", "run"]

log = logging.getLogger("berthing")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config", help="TOML config file (default: $BERTHING_CONFIG or the user config dir)"
    )
    p.add_argument("--host", help="address to listen on (config server.host; default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (config server.port; default 8778)")
    p.add_argument(
        "--store", help="store URL (config server.store; default: the embedded SQLite file)"
    )
    p.add_argument(
        "--conductors",
        type=int,
        help="conductor processes of the cell (config cell.conductors; default 1)",
    )
    p.add_argument(
        "--simulate-hosts",
        type=int,
        help="add N simulated hosts (config cell.simulate_hosts; default 0)",
    )
    p.add_argument("--cell", help="cell name (config cell.name; default cell1)")
    p.add_argument(
        "--log-format", choices=FORMATS, help="text or json lines (config log.format; text)"
    )


def _with_flags(config: ServeConfig, args: argparse.Namespace) -> ServeConfig:
    server = {k: v for k in ("host", "port", "store") if (v := getattr(args, k)) is not None}
    cell = {k: v for k in ("conductors", "simulate_hosts") if (v := getattr(args, k)) is not None}
    if args.cell is not None:
        cell["name"] = args.cell
    logs = {"format": args.log_format} if args.log_format is not None else {}
    return msgspec.structs.replace(
        config,
        server=msgspec.structs.replace(config.server, **server),
        cell=msgspec.structs.replace(config.cell, **cell),
        log=msgspec.structs.replace(config.log, **logs),
    )


def _exit_on_sigterm() -> None:
    """uvicorn stops gracefully on SIGTERM, then raises the signal again with the
    handler it found: with this one, that ends in ``SystemExit`` and the ``finally``
    that stops the cell runs, instead of the process dying with its workers left."""

    def leave(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, leave)


def run(args: argparse.Namespace) -> int:
    config = _with_flags(load_config(args.config), args)
    configure_logs(config.log.level, config.log.format)
    config.check_exposure()
    c = config.cell
    workers = c.conductors + (1 if c.simulate_hosts else 0)
    # Worker processes open the store by URL: an in-memory store cannot be shared.
    with (
        tempfile.TemporaryDirectory(prefix="berthing-metrics-") as scratch,
        open_store(config.server.store, require={Capability.SHARED} if workers else ()) as store,
    ):
        metrics.prepare(Path(scratch))
        cell = Cell(
            store.url,
            CellSettings(c.name, c.conductors, c.simulate_hosts, c.reap_every, c.scheduler_config),
        )
        cell.start()
        _exit_on_sigterm()
        try:
            app = build_app(config, store, Health(store, cell.alive))
            log.info(
                "berthing: Placement on http://%s:%d/, own API on /v1, store %s, %s: %d conductors",
                config.server.host,
                config.server.port,
                store.url,
                c.name,
                c.conductors,
            )
            uvicorn.run(
                app,
                host=config.server.host,
                port=config.server.port,
                log_level="warning",
                timeout_keep_alive=5,
                access_log=False,
            )
        finally:
            cell.close()
    return 0
