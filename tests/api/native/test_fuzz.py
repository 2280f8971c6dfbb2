"""schemathesis against the served OpenAPI document: requests generated from every
operation's schema (valid and not), sent to a real ``berthing serve`` with a cell;
no answer may be a server error. Bounded: ``EXAMPLES`` per operation."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.result import Err, Ok

from berthing.api.native import OPENAPI_PATH, ROUTES
from berthing.devtools.server import ServerProcess

EXAMPLES = 20  # x 13 operations: a few hundred requests
AS_ADMIN = {"x-auth-token": "admin"}
AS_MEMBER = {"x-auth-token": "alice:proj-a", "x-roles": "member"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{tmp / 'fuzz.db'}"
    with ServerProcess(url, tmp, "--simulate-hosts", "8", start_timeout=120) as running:
        yield running


def test_no_generated_request_gets_a_server_error(server: ServerProcess) -> None:
    schema = schemathesis.openapi.from_url(server.url + OPENAPI_PATH)
    results = list(schema.get_all_operations())
    invalid = [r.err() for r in results if isinstance(r, Err)]
    assert invalid == [], "schemathesis cannot read the document"
    operations = [r.ok() for r in results if isinstance(r, Ok)]
    assert len(operations) == sum(len(r.methods) for r in ROUTES)
    errors: list[str] = []
    statuses: Counter[int] = Counter()
    for operation in operations:

        @given(case=operation.as_strategy(), who=st.sampled_from([AS_ADMIN, AS_MEMBER]))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def send(case: schemathesis.Case, who: dict[str, str]) -> None:
            response = case.call(base_url=server.url, headers=who, timeout=30)
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                errors.append(f"{case.method} {case.formatted_path} -> {response.status_code}")

        send()
    print(f"\n{statuses.total()} requests, by status: {dict(sorted(statuses.items()))}")
    assert statuses.total() >= 10 * len(operations)
    assert {200, 201, 202, 204} & set(statuses) and {400, 404} <= set(statuses)
    log = server.log_path.read_text(errors="replace")
    assert errors == [], f"server errors: {errors[:10]}; server log ends:\n{log[-3000:]}"
    assert "Traceback" not in log
