"""``berthing serve``: parse the options, load the config, run the server."""

from __future__ import annotations

import argparse
import logging

import msgspec
import uvicorn

from berthing.service import build_app, load_config
from berthing.service.config import ServeConfig
from berthing.store import open_store

__all__ = ["add_arguments", "run"]

log = logging.getLogger("berthing")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config", help="TOML config file (default: $BERTHING_CONFIG or the user config dir)"
    )
    p.add_argument("--host", help="address to listen on (config: server.host; default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (config: server.port; default 8778)")
    p.add_argument(
        "--store", help="store URL (config: server.store; default: the embedded SQLite file)"
    )


def _with_flags(config: ServeConfig, args: argparse.Namespace) -> ServeConfig:
    changes = {k: v for k in ("host", "port", "store") if (v := getattr(args, k)) is not None}
    return msgspec.structs.replace(config, server=msgspec.structs.replace(config.server, **changes))


def run(args: argparse.Namespace) -> int:
    config = _with_flags(load_config(args.config), args)
    config.check_exposure()
    with open_store(config.server.store) as store:
        app = build_app(config, store)
        log.warning(
            "berthing serving Placement on http://%s:%d over %s",
            config.server.host,
            config.server.port,
            store.url,
        )
        uvicorn.run(
            app,
            host=config.server.host,
            port=config.server.port,
            log_level="warning",
            timeout_keep_alive=5,
            access_log=False,
        )
    return 0
