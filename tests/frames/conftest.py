"""Fixtures of the frames tests: real embedded backends over HTTP on 127.0.0.1.

``demo`` is a demo workspace shared by the session; tests that only read use it. Tests that
change server data (tags, pushes, status changes) take ``rw``, a private demo workspace, so
they never disturb each other or the readers.
"""

from __future__ import annotations

from demo_backends import backend_fixture, client_fixture

demo = backend_fixture("session")
client = client_fixture("demo", "session")
rw = backend_fixture("function")
rw_client = client_fixture("rw", "function")
