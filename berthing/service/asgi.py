"""The one ASGI application ``berthing serve`` runs: Placement at ``/``, berthing's own
API at ``/v1``, operations endpoints; CORS and a body-size limit around all of them."""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from berthing.api.placement import PlacementSettings, placement_app
from berthing.api.policy import Policy, load_policy_file
from berthing.service.config import ServeConfig
from berthing.store import Store

__all__ = ["build_app"]


def build_app(config: ServeConfig, store: Store) -> ASGIApp:
    overrides = load_policy_file(config.policy.file) if config.policy.file else None
    policy = Policy(config.policy.defaults, overrides)
    settings = PlacementSettings(
        randomize_candidates=config.placement.randomize_candidates,
        candidate_seed=config.placement.candidate_seed,
    )
    app: ASGIApp = placement_app(store, config.authenticator(), policy, settings)
    app = _BodyLimit(app, config.server.max_body_bytes)
    if config.cors.allow_origins:
        app = CORSMiddleware(
            app,
            allow_origins=config.cors.allow_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["x-auth-token", "openstack-api-version", "content-type"],
            expose_headers=["openstack-api-version", "x-openstack-request-id"],
        )
    return app


class _BodyLimit:
    """Refuse (413) a request whose body is larger than ``limit`` bytes, before a handler
    reads it: a client cannot make the server buffer gigabytes."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await PlainTextResponse(f"Request body larger than {self.limit} bytes.", 413)(
                scope, receive, send
            )
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge()
            return message

        await self.app(scope, limited, send)


class _TooLarge(Exception):
    pass
