"""The Placement-compatible ASGI application: the order of checks, and nothing else.

A request goes through, in Placement's order: request id; the root document (no token
needed); authentication (401); microversion (400/406); routing (404, 405 with
``Allow``); the route's minimum version (404); ``Accept`` on GETs (406); policy (403);
the body's media type (400/415); then the route's handler, a plain synchronous function
``Call -> Reply`` run in a worker thread (the stores are synchronous). Every error is
rendered here, from ``api.errors.to_http``, as JSON or as HTML when the client asks.
"""

from __future__ import annotations

import email.utils
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio.to_thread
import msgspec
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from berthing.api.auth import Authenticator, Identity
from berthing.api.errors import UNDEFINED, ApiError, HttpError, to_http
from berthing.api.http import (
    REQUEST_ID,
    Route,
    accepts_json,
    check_media_type,
    error_body,
    render_error,
    request_id_of,
    unauthorized,
)
from berthing.api.placement.microversion import (
    MAX,
    MIN,
    SERVICE,
    Version,
    VersionError,
    parse_header,
)
from berthing.api.policy import Policy
from berthing.engine import ProviderSource
from berthing.store import Store

__all__ = ["Call", "Handler", "PlacementApp", "Reply", "Route"]

#: msgspec's "missing field" error, rewritten in jsonschema's words (see Call.decode).
_MISSING_FIELD = re.compile(r"Object missing required field `([^`]+)`")

log = logging.getLogger(__name__)
T = TypeVar("T")
VERSION_HEADER = "openstack-api-version"


@dataclass(frozen=True, slots=True)
class Call:
    """One authenticated, versioned request, as a handler sees it."""

    version: Version
    params: Mapping[str, str]
    query: QueryParams
    body: bytes
    identity: Identity
    store: Store
    source: ProviderSource
    settings: Any
    """The server's ``PlacementSettings`` (candidate limits, seeds)."""
    prefix: str = ""
    """Where the API is mounted (``/placement``): links and Locations start with it."""
    content_type: str = ""
    """The request's media type, lower case, without parameters."""

    def at_least(self, version: str) -> bool:
        return self.version.at_least(version)

    def decode(self, cls: type[T]) -> T:
        """The JSON body as ``cls`` (a msgspec Struct): 400 naming what is wrong.

        A route that needs a body answers 415 to a request without one and without a
        JSON content type, as Placement's ``require_content`` does."""
        if not self.body:
            if self.content_type != "application/json":
                raise ApiError(415, "The request needs a JSON body (application/json).")
            raise ApiError(400, "The request needs a JSON body.")
        try:
            return msgspec.json.decode(self.body, type=cls)
        except msgspec.ValidationError as exc:
            # Placement validates with jsonschema; say a missing field in its words.
            detail = _MISSING_FIELD.sub(r"'\1' is a required property", str(exc))
            raise ApiError(400, f"JSON does not validate: {detail}") from exc
        except msgspec.DecodeError as exc:
            raise ApiError(400, f"Malformed JSON: {exc}") from exc


@dataclass(slots=True)
class Reply:
    status: int = 200
    body: object = None
    """Encoded as JSON; None: no body."""
    headers: dict[str, str] = field(default_factory=dict)
    cache: bool | None = None
    """Caching headers (1.15+): by default on GETs and on replies with a body."""


@dataclass(frozen=True, slots=True)
class Handler:
    fn: Callable[[Call], Reply]
    policy: str
    since: str = "1.0"
    below_version: int = 404
    """Status below ``since``: Placement answers 405 (without Allow) for DELETE of all
    inventories before 1.5, and 404 for every other route."""


class PlacementApp:
    def __init__(
        self,
        routes: list[Route[Handler]],
        root: Callable[[Version], object],
        *,
        store: Store,
        source: ProviderSource,
        auth: Authenticator,
        policy: Policy,
        settings: object,
    ) -> None:
        self.routes = [(r.pattern(), r) for r in routes]
        self.root = root
        self.store, self.source = store, source
        self.auth, self.policy, self.settings = auth, policy, settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        request_id = request_id_of(request)
        response = await self._respond(request, request_id)
        response.headers[REQUEST_ID] = request_id
        await response(scope, receive, send)

    async def _respond(self, request: Request, request_id: str) -> Response:
        version: Version | None = None
        try:
            if request.url.path in ("", "/") and request.method == "GET":
                version = parse_header(request.headers.get(VERSION_HEADER))
                return _json(Reply(body=self.root(version)), version, cache=True)
            identity = self.auth.identify(request.headers)
            if identity is None:
                return unauthorized()
            version = parse_header(request.headers.get(VERSION_HEADER))
            handler, params = self._route(request, version)
            call = await self._call(request, handler, params, version, identity)
            reply = await anyio.to_thread.run_sync(handler.fn, call)
            cache = request.method == "GET" or reply.body is not None
            return _json(reply, version, cache=cache if reply.cache is None else reply.cache)
        except VersionError as exc:
            return _version_error(exc, request, request_id)
        except Exception as exc:  # every error is rendered here, and only here
            return self._error(exc, request, request_id, version)

    def _route(self, request: Request, version: Version) -> tuple[Handler, dict[str, str]]:
        for pattern, route in self.routes:
            match = pattern.match(request.url.path)
            if match is None:
                continue
            handler = route.methods.get(request.method)
            if handler is None:
                allow = ", ".join(sorted(route.methods))
                raise ApiError(
                    405,
                    f"The method {request.method} is not allowed here.",
                    headers={"allow": allow},
                )
            if not version.at_least(handler.since):
                raise ApiError(
                    handler.below_version,
                    f"The resource could not be found at version {version}.",
                    code="",
                )
            return handler, match.groupdict()
        raise ApiError(404, f"The resource {request.url.path} could not be found.")

    async def _call(
        self,
        request: Request,
        handler: Handler,
        params: dict[str, str],
        version: Version,
        who: Identity,
    ) -> Call:
        if request.method == "GET" and not accepts_json(request.headers):
            raise ApiError(406, "Only application/json is available; check the Accept header.")
        target = {"project_id": who.project_id}
        if not self.policy.allows(handler.policy, who, target):
            raise ApiError(403, f"Policy does not allow {handler.policy} to be performed.")
        body = await request.body()
        check_media_type(request.headers, body)
        prefix = str(request.scope.get("root_path", ""))
        return Call(
            version,
            params,
            request.query_params,
            body,
            who,
            self.store,
            self.source,
            self.settings,
            prefix,
            request.headers.get("content-type", "").split(";")[0].strip().lower(),
        )

    def _error(
        self, exc: Exception, request: Request, request_id: str, version: Version | None
    ) -> Response:
        error = to_http(exc, placement=True)
        if error is None:
            log.exception("%s %s %s failed", request_id, request.method, request.url.path)
            error = HttpError(
                500,
                "Internal Server Error",
                "An unexpected error: see the server log.",
                UNDEFINED,
                {},
            )
        show_code = version is not None and version.at_least("1.23") and error.code
        body = {
            "status": error.status,
            "title": error.title,
            "detail": error.detail,
            "request_id": request_id,
        }
        if show_code:
            body["code"] = error.code
        headers = {**error.headers}
        if version is not None:
            headers[VERSION_HEADER] = f"{SERVICE} {version}"
            headers["vary"] = VERSION_HEADER
        return render_error(request, error.status, {"errors": [body]}, headers)


# -- rendering -----------------------------------------------------------------------------


def _json(reply: Reply, version: Version, *, cache: bool) -> Response:
    headers = {VERSION_HEADER: f"{SERVICE} {version}", "vary": VERSION_HEADER, **reply.headers}
    if cache and version.at_least("1.15"):
        headers["last-modified"] = email.utils.formatdate(time.time(), usegmt=True)
        headers["cache-control"] = "no-cache"
    if reply.body is None:
        return Response(status_code=reply.status, headers=headers)
    content = msgspec.json.encode(reply.body)
    return Response(content, reply.status, headers, media_type="application/json")


def _version_error(exc: VersionError, request: Request, request_id: str) -> Response:
    title = "Not Acceptable" if exc.status == 406 else "Bad Request"
    body = error_body(exc.status, title, exc.detail, request_id, None)
    if exc.status == 406:
        body["errors"][0].update(max_version=str(MAX), min_version=str(MIN))
    return render_error(request, exc.status, body, {})
