"""A bounded schemathesis run against the server's own OpenAPI schema.

Every operation gets generated path values, once authenticated (no 5xx allowed) and once
without credentials (never a 2xx). It runs on a private server, since generated ids can hit
real objects and change them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from synapse_nb.server import ServerHandle, start
from synapse_nb.server.db import now
from synapse_nb.server.http import hash_token

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 40


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[ServerHandle]:
    srv = start(tasks=20, job_duration=0.2)
    srv.agent_token = secrets.token_hex(20)
    with srv.state.db.write() as con:
        con.execute(
            "INSERT INTO agents (tenant_id, name, token_hash, created) "
            "VALUES ((SELECT tenant_id FROM users WHERE username = 'admin'), 'fuzz', ?, ?)",
            (hash_token(srv.agent_token), now()),
        )
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_server: ServerHandle) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(fuzz_server.url + "openapi.json")


schema = schemathesis.pytest.from_fixture("fuzz_schema")


def credentials(server: ServerHandle, path: str) -> dict[str, str]:
    if path.startswith("/agent/"):
        return {"Authorization": server.agent_token or ""}  # the agent API: raw token
    return {"Synapse-Access-Token": f"Token {server.token}"}


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_generated_requests(case, fuzz_server):
    authed = case.call(headers=credentials(fuzz_server, case.path), timeout=15)
    assert authed.status_code < 500, (case.method, case.formatted_path, authed.text[:300])
    anonymous = case.call(headers={}, timeout=15)
    # 401, or 404/405 when routing already refuses the generated path or method
    assert anonymous.status_code in (401, 404, 405), (case.method, case.formatted_path)
