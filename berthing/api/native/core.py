"""berthing's own API under ``/v1``: the order of checks and one error renderer.

Checks, in order: authentication (401), routing (404, 405 with ``Allow``), the
operation's role (403: ``reader`` reads, ``member`` changes its own project's servers,
``admin`` does everything), ``Accept`` (406), the body's media type and shape (400,
415), then the handler, a synchronous function run in a worker thread. Errors have
Placement's shape with berthing's codes (``api.errors.to_http``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

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
    match_route,
    render_error,
    request_id_of,
    unauthorized,
)
from berthing.conductor import Conductor
from berthing.scheduler import Scheduler
from berthing.store import Store

__all__ = ["Ctx", "NativeApp", "Op", "Role"]

log = logging.getLogger(__name__)


class Role(IntEnum):
    """Each role may do what the ones below it may."""

    READER = 1
    MEMBER = 2
    ADMIN = 3

    @classmethod
    def of(cls, who: Identity) -> Role | None:
        for role in (cls.ADMIN, cls.MEMBER, cls.READER):
            if role.name.lower() in who.roles:
                return role
        return None


@dataclass(frozen=True, slots=True)
class Ctx:
    """One request, as a handler sees it."""

    identity: Identity
    role: Role
    params: Mapping[str, str]
    query: QueryParams
    store: Store
    conductor: Conductor
    scheduler: Scheduler

    @property
    def admin(self) -> bool:
        return self.role is Role.ADMIN

    def may_see(self, project_id: str) -> bool:
        """A project's things are its own: others see them only as an administrator."""
        return self.admin or project_id == self.identity.project_id


@dataclass(frozen=True, slots=True)
class Op:
    fn: Callable[[Ctx, Any], object]
    role: Role
    summary: str
    body: type | None = None
    response: type | None = None
    status: int = 200


class NativeApp:
    def __init__(
        self,
        routes: list[Route[Op]],
        *,
        store: Store,
        conductor: Conductor,
        scheduler: Scheduler,
        auth: Authenticator,
        extra: Mapping[str, Callable[[], object]] | None = None,
    ) -> None:
        self.routes = [(r.pattern(), r) for r in routes]
        self.store, self.conductor, self.scheduler, self.auth = store, conductor, scheduler, auth
        self.extra = dict(extra or {})
        """Unauthenticated GETs answered with JSON (the OpenAPI document)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        request_id = request_id_of(request)
        try:
            response = await self._respond(request)
        except Exception as exc:  # every error is rendered here, and only here
            response = _error(exc, request, request_id)
        response.headers[REQUEST_ID] = request_id
        await response(scope, receive, send)

    async def _respond(self, request: Request) -> Response:
        path = request.url.path
        if request.method == "GET" and path in self.extra:
            return _json(self.extra[path](), 200)
        who = self.auth.identify(request.headers)
        if who is None:
            return unauthorized()
        op, params = match_route(self.routes, request.method, path)
        role = Role.of(who)
        if role is None or role < op.role:
            raise ApiError(
                403, f"This needs the {op.role.name.lower()} role.", "berthing.forbidden"
            )
        if not accepts_json(request.headers):
            raise ApiError(406, "Only application/json is available; check the Accept header.")
        body = await request.body()
        check_media_type(request.headers, body)
        payload = _decode(op, body)
        ctx = Ctx(
            who, role, params, request.query_params, self.store, self.conductor, self.scheduler
        )
        result = await anyio.to_thread.run_sync(op.fn, ctx, payload)
        return _json(result, op.status)


def _decode(op: Op, body: bytes) -> object:
    if op.body is None:
        return None
    if not body:
        raise ApiError(400, "This request needs a JSON body.", "berthing.invalid_input")
    try:
        return msgspec.json.decode(body, type=op.body)
    except msgspec.ValidationError as exc:
        raise ApiError(
            400, f"The body does not validate: {exc}.", "berthing.invalid_input"
        ) from exc
    except msgspec.DecodeError as exc:
        raise ApiError(400, f"Malformed JSON: {exc}.", "berthing.invalid_input") from exc


def _json(result: object, status: int) -> Response:
    if result is None:
        return Response(status_code=204 if status == 200 else status)
    return Response(msgspec.json.encode(result), status, media_type="application/json")


def _error(exc: Exception, request: Request, request_id: str) -> Response:
    error = to_http(exc, placement=False)
    if error is None:
        log.exception("%s %s %s failed", request_id, request.method, request.url.path)
        error = HttpError(
            500, "Internal Server Error", "An unexpected error: see the server log.", UNDEFINED, {}
        )
    code = error.code if error.code != UNDEFINED else "berthing.error"
    body = error_body(error.status, error.title, error.detail, request_id, code)
    return render_error(request, error.status, body, dict(error.headers))
