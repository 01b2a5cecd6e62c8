"""A demo backend and notebook clients for the evaluation tests that go through the server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from synapse_nb.frames import Client
from synapse_nb.server import ServerHandle, start


@pytest.fixture(scope="module")
def demo() -> Iterator[ServerHandle]:
    """The demo workspace, read-only for the tests that share it."""
    srv = start(demo=True)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def client(demo: ServerHandle) -> Iterator[Client]:
    with Client(demo.url, api_token=demo.token, progress=False) as c:
        yield c


@pytest.fixture
def rw() -> Iterator[ServerHandle]:
    """A private demo backend for tests that write."""
    srv = start(demo=True)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def rw_client(rw: ServerHandle) -> Iterator[Client]:
    with Client(rw.url, api_token=rw.token, progress=False) as c:
        yield c
