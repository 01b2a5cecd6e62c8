"""A demo backend and notebook clients for the evaluation tests that go through the server."""

from __future__ import annotations

from demo_backends import backend_fixture, client_fixture

demo = backend_fixture(doc="The demo workspace, read-only for the tests that share it.")
client = client_fixture("demo", progress=False)
rw = backend_fixture("function", doc="A private demo backend for tests that write.")
rw_client = client_fixture("rw", "function", progress=False)
