"""``berthing serve``: one process running the APIs (and its cell's conductors and,
optionally, a simulated fleet) over any store."""

from berthing.service.asgi import Health, build_app
from berthing.service.config import ServeConfig, load_config

__all__ = ["Health", "ServeConfig", "build_app", "load_config"]
