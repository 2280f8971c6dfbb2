"""berthing's own API, ``/v1``: servers, hosts, server groups, zones, explain."""

from berthing.api.native.app import OPENAPI_PATH, native_app
from berthing.api.native.openapi import openapi
from berthing.api.native.routes import ROUTES

__all__ = ["OPENAPI_PATH", "ROUTES", "native_app", "openapi"]
