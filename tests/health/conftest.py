"""Fixtures of the health tests: the demo workspace over real HTTP on 127.0.0.1.

Each test module gets its own demo backend (module scope), which its tests only read:
``demo`` (the server), ``client`` (a notebook client of it), ``tasks`` (project 1's tasks with
a ``split`` column) and ``report`` (``df.synapse.health()`` of those tasks; a module may
define its own ``report``, which then takes precedence).
"""

from __future__ import annotations

import pandas as pd
import pytest
from demo_backends import backend_fixture, client_fixture

from synapse_nb.frames import Client
from synapse_nb.frames.health import FrameHealth

demo = backend_fixture()
client = client_fixture("demo", progress=False)


@pytest.fixture(scope="module")
def tasks(client: Client) -> pd.DataFrame:
    return client.list_tasks({"project": 1}, list_all=True).synapse.split()


@pytest.fixture(scope="module")
def report(tasks: pd.DataFrame) -> FrameHealth:
    return tasks.synapse.health(progress=False)
