"""Starlette: routes, a pure-ASGI microversion middleware, one exception handler; msgspec."""

from __future__ import annotations

import payload_msgspec as p
from asgi_common import SCOPE_KEY, MicroversionMiddleware
from shared import ApiError, error_body, get_headers, parse_candidate_query
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

JSON = "application/json"


def _json(body: bytes, request: Request) -> Response:
    return Response(body, media_type=JSON, headers=dict(get_headers(request.scope[SCOPE_KEY])))


async def root(request: Request) -> Response:
    return _json(p.encode(p.VERSIONS), request)


async def candidates(request: Request) -> Response:
    q = request.query_params
    query = parse_candidate_query(q.get("resources"), q.get("required"), q.get("limit"))
    return _json(p.encode(p.find_candidates(query)), request)


async def put_allocations(request: Request) -> Response:
    _consumer = request.path_params["consumer_uuid"]  # a UUID: the route converter checked it
    p.decode_put(await request.body())
    return Response(status_code=204)


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return Response(error_body(exc), status_code=exc.status, media_type=JSON)


app = Starlette(
    routes=[
        Route("/", root, methods=["GET"]),
        Route("/allocation_candidates", candidates, methods=["GET"]),
        Route("/allocations/{consumer_uuid:uuid}", put_allocations, methods=["PUT"]),
    ],
    middleware=[Middleware(MicroversionMiddleware)],
    exception_handlers={ApiError: api_error},
)
