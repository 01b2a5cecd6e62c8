"""Fixtures shared by the widget tests that drive a demo workspace.

``demo`` and ``client`` are module-scoped: each test module that uses them gets a workspace
of its own (the tagging tests change server data). ``comm`` records what widgets send to a
frontend; a module opts in with ``pytestmark = pytest.mark.usefixtures("comm")``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from wb_helpers import demo_server, recording_comm

from synapse_nb.frames import Client
from synapse_nb.server import ServerHandle


@pytest.fixture
def comm() -> Iterator[None]:
    with recording_comm():
        yield


@pytest.fixture(scope="module")
def demo() -> Iterator[ServerHandle]:
    with demo_server() as srv:
        yield srv


@pytest.fixture(scope="module")
def client(demo: ServerHandle) -> Iterator[Client]:
    with Client(demo.url, api_token=demo.token) as c:
        yield c
