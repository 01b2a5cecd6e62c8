"""Fixtures of the client tests: real embedded backends reached over HTTP on 127.0.0.1.

``demo_srv`` is one demo workspace shared by the session (tests create their own objects
when they mutate); ``wire`` gives the requests that server received during a test, so
tests assert on what actually went over the wire. Tests that change server-wide settings
(faults, latency, restarts) start their own server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from client_helpers import (
    SCALE_TASKS,
    Wire,
)
from demo_backends import backend_fixture
from hostile import HostileServer

from synapse_nb.clients import BackendClient
from synapse_nb.server import ServerHandle

demo_srv = backend_fixture("session")


@pytest.fixture(scope="session")
def media_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media-cache")


@pytest.fixture(scope="session")
def client(demo_srv: ServerHandle, media_cache: Path) -> Iterator[BackendClient]:
    with BackendClient(demo_srv.url, api_token=demo_srv.token, cache_dir=media_cache) as c:
        yield c


@pytest.fixture
def wire(demo_srv: ServerHandle) -> Wire:
    w = Wire(demo_srv)
    w.clear()
    return w


scale_srv = backend_fixture(
    demo=False,
    tasks=SCALE_TASKS,
    doc="A server with a bulk-seeded project of SCALE_TASKS tasks; tests reset its faults.",
)


@pytest.fixture
def scale_project(scale_srv: ServerHandle) -> int:
    scale_srv.set_faults()
    with BackendClient(scale_srv.url, api_token=scale_srv.token) as c:
        projects = c._get("projects/", {"page_size": 1000})["results"]
    return next(p["id"] for p in projects if p["title"].startswith("Scale project"))


@pytest.fixture
def quick_retry() -> dict[str, Any]:
    """A retry policy with short waits, for tests that exhaust retries on purpose."""
    return {"total": 2, "backoff_factor": 0.05, "backoff_jitter": 0.0, "backoff_max": 0.2}


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    """A scripted server on 127.0.0.1 that plays the API (base_url is ``hostile.url + /api``)."""
    srv = HostileServer()
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture
def other_port() -> Iterator[HostileServer]:
    """A second scripted server: same host as ``hostile``, another port (another origin)."""
    srv = HostileServer()
    try:
        yield srv
    finally:
        srv.close()
