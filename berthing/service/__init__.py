"""``berthing serve``: one process running the APIs (and, with a cell, its conductor,
schedulers and optionally a simulated fleet) over any store."""

from berthing.service.asgi import build_app
from berthing.service.config import ServeConfig, load_config

__all__ = ["ServeConfig", "build_app", "load_config"]
