"""The one ASGI application ``berthing serve`` runs: Placement at ``/``, berthing's own
API at ``/v1``, and the operations endpoints (``/healthz``, ``/readyz``, ``/metrics``);
around all of them a request id, an access log line, request metrics, a body-size limit,
a time limit and CORS."""

from __future__ import annotations

import contextvars
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio
import msgspec
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from berthing.api.http import new_request_id
from berthing.api.native import native_app
from berthing.api.placement import PlacementSettings, placement_app
from berthing.api.policy import Policy, load_policy_file
from berthing.conductor import Conductor
from berthing.scheduler import Scheduler
from berthing.service import metrics
from berthing.service.config import ServeConfig
from berthing.store import Store

__all__ = ["REQUEST_ID", "Health", "build_app"]

log = logging.getLogger("berthing.access")
REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
OPS = ("/healthz", "/readyz", "/metrics")


@dataclass(frozen=True, slots=True)
class Health:
    """What /readyz asks: is the store reachable, are the cell's workers alive."""

    store: Store
    dead_workers: Callable[[], list[str]]


def build_app(config: ServeConfig, store: Store, health: Health) -> ASGIApp:
    overrides = load_policy_file(config.policy.file) if config.policy.file else None
    policy = Policy(config.policy.defaults, overrides)
    settings = PlacementSettings(
        randomize_candidates=config.placement.randomize_candidates,
        candidate_seed=config.placement.candidate_seed,
    )
    auth = config.authenticator()
    scheduler = Scheduler(store)
    conductor = Conductor(store, scheduler, cell=config.cell.name)
    app: ASGIApp = _Server(
        placement_app(store, auth, policy, settings),
        native_app(store, conductor, scheduler, auth),
        health,
        config.server.max_body_bytes,
        config.server.request_timeout,
    )
    if config.cors.allow_origins:
        app = CORSMiddleware(
            app,
            allow_origins=config.cors.allow_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["x-auth-token", "openstack-api-version", "content-type"],
            expose_headers=["openstack-api-version", "x-openstack-request-id"],
        )
    return app


class _Server:
    def __init__(
        self, placement: ASGIApp, native: ASGIApp, health: Health, max_body: int, timeout: float
    ) -> None:
        self.placement, self.native, self.health = placement, native, health
        self.max_body, self.timeout = max_body, timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        REQUEST_ID.set(request_id)
        path: str = scope["path"]
        api = "ops" if path in OPS else "native" if path.startswith("/v1") else "placement"
        status = [500]
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self._dispatch(api, scope, _limited(receive, self.max_body), sending)
        except _TooLarge:
            await Response(f"Request body larger than {self.max_body} bytes.", 413)(
                scope, receive, sending
            )
        finally:
            took = time.perf_counter() - started
            metrics.request_observer(api, _route(path), scope["method"], status[0], took)
            # The request id is on every line already (service/logs.py).
            log.info("%s %s %d %.1fms", scope["method"], path, status[0], took * 1000)

    async def _dispatch(self, api: str, scope: Scope, receive: Receive, send: Send) -> None:
        if _declared_length(scope) > self.max_body:
            raise _TooLarge()
        if api == "ops":
            await self._ops(scope["path"])(scope, receive, send)
            return
        target = self.native if api == "native" else self.placement
        try:
            with anyio.fail_after(self.timeout):
                await target(scope, receive, send)
        except TimeoutError:
            body = f"The request took longer than {self.timeout:g}s; retry, or see the server log."
            await Response(body, 503)(scope, receive, send)

    def _ops(self, path: str) -> Response:
        if path == "/healthz":
            return _json({"status": "ok"}, 200)
        if path == "/readyz":
            problems = _readiness(self.health)
            return _json(
                {"status": "ok" if not problems else "unready", "problems": problems},
                503 if problems else 200,
            )
        content, media_type = metrics.exposition()
        return Response(content, 200, media_type=media_type)


def _readiness(health: Health) -> list[str]:
    problems = [f"worker {name} is not running" for name in health.dead_workers()]
    try:
        health.store.shape()
    except Exception as exc:  # any failure to reach the store means "not ready", said plainly
        problems.append(f"store {health.store.url} is not reachable: {exc}")
    return problems


def _json(body: object, status: int) -> Response:
    return Response(msgspec.json.encode(body), status, media_type="application/json")


def _declared_length(scope: Scope) -> int:
    for name, value in scope.get("headers", []):
        if name == b"content-length" and value.isdigit():
            return int(value)
    return 0


class _TooLarge(Exception):
    pass


def _limited(receive: Receive, limit: int) -> Receive:
    """Refuse a body that grows past ``limit`` even without a Content-Length."""
    seen = 0

    async def limited() -> Message:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > limit:
            raise _TooLarge()
        return message

    return limited


def _route(path: str) -> str:
    """A path with its ids replaced, so that metrics have few label values: a segment
    stays if it is a lower-case word (``servers``, ``server-groups``) or a version
    (``v1``)."""
    parts = path.strip("/").split("/")
    kept = [p if _WORD.fullmatch(p) else "{id}" for p in parts]
    return "/" + "/".join(kept) if path != "/" else "/"


_WORD = re.compile(r"[a-z][a-z_-]*|v[0-9]+")
