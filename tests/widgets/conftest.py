"""Fixtures shared by the widget tests that drive a demo workspace.

``demo`` and ``client`` are module-scoped: each test module that uses them gets a workspace
of its own (the tagging tests change server data). ``comm`` records what widgets send to a
frontend; a module opts in with ``pytestmark = pytest.mark.usefixtures("comm")``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from demo_backends import backend_fixture, client_fixture
from wb_helpers import recording_comm


@pytest.fixture
def comm() -> Iterator[None]:
    with recording_comm():
        yield


demo = backend_fixture()
client = client_fixture("demo")
