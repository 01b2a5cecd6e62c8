"""Fixtures of the importer tests: a demo backend over real HTTP on 127.0.0.1.

``demo`` is shared and only read; ``rw`` is a private demo workspace per test module for
tests that write annotations (each test writes to tasks no other test touches).
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from synapse_nb.frames import Client
from synapse_nb.server import ServerHandle, start


@pytest.fixture(scope="module")
def rw() -> Iterator[ServerHandle]:
    srv = start(demo=True)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def rw_client(rw: ServerHandle) -> Iterator[Client]:
    with Client(rw.url, api_token=rw.token, progress=False) as c:
        yield c


@pytest.fixture(scope="module")
def tasks(rw_client: Client) -> pd.DataFrame:
    """Project 1's task frame as the module starts."""
    return rw_client.list_tasks({"project": 1}, list_all=True)
