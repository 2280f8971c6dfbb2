"""FastAPI as its documentation shows it: pydantic models in and out, typed parameters."""

from __future__ import annotations

import uuid

import payload_pydantic as p
from asgi_common import SCOPE_KEY, MicroversionMiddleware
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from shared import ApiError, error_body, get_headers, parse_candidate_query


def install_error_handlers(app: FastAPI) -> None:
    """One place: ApiError and FastAPI's own validation errors become Placement's 400 body."""

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return Response(error_body(exc), status_code=exc.status, media_type="application/json")

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return await api_error(request, ApiError(400, "Bad Request", str(exc.errors())))

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, invalid)


app = FastAPI()
app.add_middleware(MicroversionMiddleware)
install_error_handlers(app)


def _cache_headers(request: Request, response: Response) -> None:
    response.headers.update(dict(get_headers(request.scope[SCOPE_KEY])))


@app.get("/")
async def root(request: Request, response: Response) -> p.Versions:
    _cache_headers(request, response)
    return p.VERSIONS


@app.get("/allocation_candidates")
async def candidates(
    request: Request,
    response: Response,
    resources: str,
    required: str | None = None,
    limit: int | None = None,
) -> p.Candidates:
    _cache_headers(request, response)
    return p.find_candidates(parse_candidate_query(resources, required, limit))


@app.put("/allocations/{consumer_uuid}", status_code=204)
async def put_allocations(consumer_uuid: uuid.UUID, body: p.AllocationsPut) -> None:
    return None
