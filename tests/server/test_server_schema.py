"""A bounded schemathesis run against the server's own OpenAPI schema.

Every operation gets generated path values, queries and bodies, once authenticated (no 5xx
allowed) and once without credentials (never a 2xx). Besides what the schema allows, the
generator sends the shapes that once broke the server: dates at the ends of the calendar with
non-UTC offsets (in every date-time query parameter and body field) and bodies with a value
nested far deeper than anything real. It runs on a private server, since generated ids can
hit real objects and change them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from synapse_nb.server import ServerHandle, start
from synapse_nb.server.db import now
from synapse_nb.server.http import hash_token

#: one test with a subtest per operation: the run as a whole takes a few minutes on 2 cores
#: (longer on a busy machine), past the suite's default per-test timeout
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

MAX_EXAMPLES = 30

#: offsets that push the first and the last representable instants out of range in UTC
OFFSETS = [UTC, *(timezone(timedelta(hours=h)) for h in (-12, -5, 5, 14))]
EDGES = [datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59, 999999)]
DATE_TIMES = st.one_of(
    st.datetimes(timezones=st.sampled_from(OFFSETS)).map(datetime.isoformat),
    st.builds(
        lambda d, tz: d.replace(tzinfo=tz).isoformat(),
        st.sampled_from(EDGES),
        st.sampled_from(OFFSETS),
    ),
    st.sampled_from([e.isoformat() for e in EDGES]),
)
schemathesis.openapi.format("date-time", DATE_TIMES)
#: around the server's nesting limit, far past it, and past the JSON parser's recursion
DEPTHS = st.sampled_from([20, 99, 100, 101, 300, 900])


def nested(depth: int) -> Any:
    value: Any = {"leaf": 1}
    for level in range(depth):
        value = {"n": value} if level % 2 else [value]
    return value


def deepen(body: Any) -> st.SearchStrategy:
    """The generated body, or the same body with one value (or itself) nested deep."""
    if isinstance(body, dict) and body:
        variants = st.builds(
            lambda key, depth: {**body, key: nested(depth)}, st.sampled_from(sorted(body)), DEPTHS
        )
    else:
        variants = DEPTHS.map(nested)
    return st.one_of(st.just(body), variants)


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[ServerHandle]:
    srv = start(tasks=20)
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
    schema = schemathesis.openapi.from_url(fuzz_server.url + "openapi.json")
    schema.hook("flatmap_body")(lambda context, body: deepen(body))
    return schema


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
