"""FastAPI routing and typed query/path parameters, but msgspec bodies (pydantic bypassed)."""

from __future__ import annotations

import uuid

import payload_msgspec as p
from asgi_common import SCOPE_KEY, MicroversionMiddleware
from fastapi import FastAPI, Request, Response
from fastapi_app import install_error_handlers
from shared import get_headers, parse_candidate_query

JSON = "application/json"
app = FastAPI()
app.add_middleware(MicroversionMiddleware)
install_error_handlers(app)


def _json(body: bytes, request: Request) -> Response:
    return Response(body, media_type=JSON, headers=dict(get_headers(request.scope[SCOPE_KEY])))


@app.get("/")
async def root(request: Request) -> Response:
    return _json(p.encode(p.VERSIONS), request)


@app.get("/allocation_candidates")
async def candidates(
    request: Request, resources: str, required: str | None = None, limit: int | None = None
) -> Response:
    query = parse_candidate_query(resources, required, limit)
    return _json(p.encode(p.find_candidates(query)), request)


@app.put("/allocations/{consumer_uuid}", status_code=204)
async def put_allocations(consumer_uuid: uuid.UUID, request: Request) -> Response:
    p.decode_put(await request.body())
    return Response(status_code=204)
