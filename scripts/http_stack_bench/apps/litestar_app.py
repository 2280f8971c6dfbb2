"""Litestar as documented: msgspec Structs in and out (its native codec), typed parameters."""

from __future__ import annotations

import uuid
from typing import Any

import payload_msgspec as p
from asgi_common import SCOPE_KEY, MicroversionMiddleware
from litestar import Litestar, Request, Response, get, put
from litestar.exceptions import ValidationException
from shared import ApiError, error_body, get_headers, parse_candidate_query


def _cached(request: Request[Any, Any, Any]) -> dict[str, str]:
    return dict(get_headers(request.scope[SCOPE_KEY]))  # type: ignore[literal-required]


@get("/")
async def root(request: Request[Any, Any, Any]) -> Response[p.Versions]:
    return Response(p.VERSIONS, headers=_cached(request))


@get("/allocation_candidates")
async def candidates(
    request: Request[Any, Any, Any],
    resources: str,
    required: str | None = None,
    limit: int | None = None,
) -> Response[p.Candidates]:
    query = parse_candidate_query(resources, required, limit)
    return Response(p.find_candidates(query), headers=_cached(request))


@put("/allocations/{consumer_uuid:uuid}", status_code=204)
async def put_allocations(consumer_uuid: uuid.UUID, data: p.AllocationsPut) -> None:
    return None


def api_error(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """One place: ApiError and Litestar's validation errors become Placement's error body."""
    if not isinstance(exc, ApiError):
        exc = ApiError(400, "Bad Request", str(getattr(exc, "extra", exc)))
    return Response(error_body(exc), status_code=exc.status, media_type="application/json")


app = Litestar(
    route_handlers=[root, candidates, put_allocations],
    middleware=[MicroversionMiddleware],
    exception_handlers={ApiError: api_error, ValidationException: api_error},
)
