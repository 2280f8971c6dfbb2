"""The OpenAPI document: what the server serves is what the code generates, and it
names every route the server dispatches (so a client generated from it is complete)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from berthing.api.http import Route
from berthing.api.native import OPENAPI_PATH, ROUTES, openapi
from berthing.api.native.core import Op

pytestmark = pytest.mark.anyio


async def test_the_served_document_is_the_generated_one(api: httpx.AsyncClient) -> None:
    response = await api.get(OPENAPI_PATH)  # no token: a client needs it to start
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == openapi(ROUTES)


CHECKED_IN = Path(__file__).parents[3] / "docs" / "openapi.json"
REGENERATE = (
    "python -c 'import json; from berthing.api.native import ROUTES, openapi; "
    "print(json.dumps(openapi(ROUTES), indent=2))' > docs/openapi.json"
)


def test_the_checked_in_document_is_current() -> None:
    """docs/openapi.json is for readers and client generators without a server."""
    assert json.loads(CHECKED_IN.read_text()) == openapi(ROUTES), f"regenerate: {REGENERATE}"


def test_every_route_and_method_is_described() -> None:
    document = openapi(ROUTES)
    described = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    dispatched = {(m, r.path) for r in ROUTES for m in r.methods}
    assert described == dispatched
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids)) == len(dispatched)


def test_every_schema_reference_resolves() -> None:
    document = openapi(ROUTES)
    schemas = document["components"]["schemas"]
    refs = _refs(document["paths"]) | _refs(schemas)
    assert refs, "the document refers to no schema at all"
    assert {r.rsplit("/", 1)[1] for r in refs} <= set(schemas)


@pytest.mark.parametrize("route", ROUTES, ids=[r.path for r in ROUTES])
def test_each_operation_declares_its_success_and_its_body(route: Route[Op]) -> None:
    document = openapi(ROUTES)
    for method, op in route.methods.items():
        described = document["paths"][route.path][method.lower()]
        assert str(op.status) in described["responses"]
        assert ("requestBody" in described) == (op.body is not None)
        assert f"Needs the {op.role.name.lower()} role." == described["description"]


def _refs(node: object) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()
