"""Fixtures of the frames tests: real embedded backends over HTTP on 127.0.0.1.

``demo`` is a demo workspace shared by the session; tests that only read use it. Tests that
change server data (tags, pushes, status changes) take ``rw``, a private demo workspace, so
they never disturb each other or the readers.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from synapse_nb.frames import Client
from synapse_nb.server import ServerHandle, start


@pytest.fixture(scope="session")
def demo() -> Iterator[ServerHandle]:
    srv = start(demo=True)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def client(demo: ServerHandle) -> Iterator[Client]:
    with Client(demo.url, api_token=demo.token) as c:
        yield c


@pytest.fixture
def rw() -> Iterator[ServerHandle]:
    srv = start(demo=True)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def rw_client(rw: ServerHandle) -> Iterator[Client]:
    with Client(rw.url, api_token=rw.token) as c:
        yield c
