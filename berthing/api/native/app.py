"""Assemble the native API of one server."""

from __future__ import annotations

from berthing.api.auth import Authenticator
from berthing.api.native.core import NativeApp
from berthing.api.native.openapi import openapi
from berthing.api.native.routes import ROUTES
from berthing.conductor import Conductor
from berthing.scheduler import Scheduler
from berthing.store import Store

__all__ = ["OPENAPI_PATH", "native_app"]

OPENAPI_PATH = "/v1/openapi.json"


def native_app(
    store: Store, conductor: Conductor, scheduler: Scheduler, auth: Authenticator
) -> NativeApp:
    document = openapi(ROUTES)
    return NativeApp(
        ROUTES,
        store=store,
        conductor=conductor,
        scheduler=scheduler,
        auth=auth,
        extra={OPENAPI_PATH: lambda: document},
    )
