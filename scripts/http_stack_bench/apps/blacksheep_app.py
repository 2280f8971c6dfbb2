"""BlackSheep: router, a middleware function, one exception handler; msgspec payloads."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import payload_msgspec as p
from blacksheep import Application, Content, Request, Response
from shared import (
    MIN_VERSION,
    ApiError,
    error_body,
    get_headers,
    parse_candidate_query,
    parse_microversion,
    version_headers,
)

JSON = b"application/json"
app = Application()


def _b(pairs: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.encode(), v.encode()) for k, v in pairs]


def _error(err: ApiError) -> Response:
    return Response(err.status, None, Content(JSON, error_body(err)))


async def microversion(
    request: Request, handler: Callable[[Request], Awaitable[Response]]
) -> Response:
    """The one place for the header rule."""
    raw = request.get_first_header(b"openstack-api-version")
    version = MIN_VERSION
    try:
        version = parse_microversion(raw.decode("latin-1") if raw else None)
        request.scope["placement.microversion"] = version
        response = await handler(request)
    except ApiError as err:  # raised by a handler or by the header rule: mapped here
        response = _error(err)
    for name, value in _b(version_headers(version)):
        response.add_header(name, value)
    return response


app.middlewares.append(microversion)


def _json(request: Request, body: bytes) -> Response:
    version = request.scope["placement.microversion"]
    return Response(200, _b(get_headers(version)), Content(JSON, body))


@app.router.get("/")
async def root(request: Request) -> Response:
    return _json(request, p.encode(p.VERSIONS))


def _first(request: Request, name: str) -> str | None:
    values = request.query.get(name)
    return values[0] if values else None


@app.router.get("/allocation_candidates")
async def candidates(request: Request) -> Response:
    query = parse_candidate_query(
        _first(request, "resources"), _first(request, "required"), _first(request, "limit")
    )
    return _json(request, p.encode(p.find_candidates(query)))


@app.router.put("/allocations/{consumer_uuid}")
async def put_allocations(request: Request, consumer_uuid: uuid.UUID) -> Response:
    p.decode_put(await request.read() or b"")
    return Response(204)
