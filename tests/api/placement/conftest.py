from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def placement_url() -> str:
    """Base URL of the Placement API the spec files run against.

    This fallback reads PLACEMENT_SPEC_URL (e.g. http://127.0.0.1:8778 for a real
    OpenStack Placement, or a URL with a path prefix such as .../placement). A conftest
    closer to the tests, or this one replaced, can start a server instead.
    """
    url = os.environ.get("PLACEMENT_SPEC_URL")
    if not url:
        pytest.fail(
            "PLACEMENT_SPEC_URL is not set: point it at a running Placement API, e.g. "
            "PLACEMENT_SPEC_URL=http://127.0.0.1:8778 pytest tests/api/placement",
            pytrace=False,
        )
    return url.rstrip("/")
