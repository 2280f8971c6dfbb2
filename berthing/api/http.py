"""What every berthing HTTP API shares: routes as path templates, JSON (or HTML) error
bodies in Placement's shape, media-type checks, request ids."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response

from berthing.api.errors import ApiError

__all__ = [
    "REQUEST_ID",
    "Route",
    "accepts_json",
    "check_media_type",
    "error_body",
    "match_route",
    "new_request_id",
    "render_error",
    "request_id_of",
    "unauthorized",
]

REQUEST_ID = "x-openstack-request-id"
H = TypeVar("H")


def new_request_id() -> str:
    return f"req-{uuid.uuid4()}"


def request_id_of(request: Request) -> str:
    """The id the server gave this request on arrival (its log lines carry it), so the
    client's header and the logs agree; a new one for an app mounted on its own."""
    state = request.scope.get("state") or {}
    return str(state.get("request_id") or new_request_id())


@dataclass(frozen=True, slots=True)
class Route(Generic[H]):
    path: str
    methods: Mapping[str, H]

    def pattern(self) -> re.Pattern[str]:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path)
        return re.compile(f"^{regex}$")


def match_route(
    routes: list[tuple[re.Pattern[str], Route[H]]], method: str, path: str
) -> tuple[H, dict[str, str]]:
    """The handler for ``method path``: 404 if no route matches, 405 with ``Allow``."""
    for pattern, route in routes:
        match = pattern.match(path)
        if match is None:
            continue
        handler = route.methods.get(method)
        if handler is None:
            allow = ", ".join(sorted(route.methods))
            raise ApiError(
                405, f"The method {method} is not allowed here.", headers={"allow": allow}
            )
        return handler, match.groupdict()
    raise ApiError(404, f"The resource {path} could not be found.")


def error_body(
    status: int, title: str, detail: str, request_id: str, code: str | None
) -> dict[str, Any]:
    error: dict[str, Any] = {
        "status": status,
        "title": title,
        "detail": detail,
        "request_id": request_id,
    }
    if code:
        error["code"] = code
    return {"errors": [error]}


def render_error(
    request: Request, status: int, body: dict[str, Any], headers: dict[str, str]
) -> Response:
    """JSON, or a small HTML page when the client accepts HTML (as Placement does)."""
    if "text/html" in request.headers.get("accept", ""):
        error = body["errors"][0]
        title = f"{status} {html.escape(error['title'])}"
        detail = html.escape(error["detail"])
        page = (
            f"<html><head><title>{title}</title></head>"
            f"<body><h1>{title}</h1><p>{detail}</p></body></html>"
        )
        return Response(page, status, headers, media_type="text/html")
    return Response(msgspec.json.encode(body), status, headers, media_type="application/json")


def unauthorized() -> Response:
    """Keystone's 401 body, which is not Placement's error shape (clients expect this)."""
    body = {
        "message": "The request you have made requires authentication.",
        "code": "401 Unauthorized",
        "title": "Unauthorized",
    }
    return Response(msgspec.json.encode(body), 401, media_type="application/json")


def accepts_json(headers: Headers) -> bool:
    accept = headers.get("accept", "")
    if not accept.strip():
        return True
    kinds = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    return bool(kinds & {"application/json", "application/*", "*/*"})


def check_media_type(headers: Headers, body: bytes) -> None:
    if not body:
        return
    content_type = headers.get("content-type")
    if not content_type:
        raise ApiError(400, "A request with a body needs a Content-Type header (application/json).")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise ApiError(
            415, f"The media type {content_type} is not supported, use application/json."
        )
