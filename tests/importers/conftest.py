"""Fixtures of the importer tests: a demo backend over real HTTP on 127.0.0.1.

``demo`` is shared and only read; ``rw`` is a private demo workspace per test module for
tests that write annotations (each test writes to tasks no other test touches).
"""

from __future__ import annotations

import pandas as pd
import pytest
from demo_backends import backend_fixture, client_fixture

from synapse_nb.frames import Client

rw = backend_fixture()
rw_client = client_fixture("rw", progress=False)


@pytest.fixture(scope="module")
def tasks(rw_client: Client) -> pd.DataFrame:
    """Project 1's task frame as the module starts."""
    return rw_client.list_tasks({"project": 1}, list_all=True)
