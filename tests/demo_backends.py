"""Embedded backends for the tests: start one, hand it out as a fixture, stop it.

A test folder or module declares the backend it needs in one line, and its clients in one more::

    demo = backend_fixture()                          # the demo workspace, one per module
    rw = backend_fixture("function")                  # a private one per test (tests that write)
    client = client_fixture("demo", progress=False)   # a notebook Client of ``demo``
    api = api_fixture("demo")                         # raw HTTP as the demo's admin

The scope says who shares an instance: a module whose tests change server data keeps its own
(module or function scope); session scope only where no test writes. (A conftest cannot import
another conftest by name, so the factories live here; ``tests/conftest.py`` uses them too.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal
from urllib.parse import urljoin

import pytest
import requests

from synapse_nb.frames import Client
from synapse_nb.server import ServerHandle, start

Scope = Literal["function", "module", "session"]


class ApiSession(requests.Session):
    """A ``requests.Session`` that resolves relative paths against the server's base URL."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        super().__init__()
        self.base_url = base_url
        self.headers.update(headers or {})

    def request(self, method: str, url: str, *args, **kwargs) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", 30)
        return super().request(method, urljoin(self.base_url, url), *args, **kwargs)


def token_headers(token: str) -> dict[str, str]:
    return {"Synapse-Access-Token": f"Token {token}"}


@contextmanager
def running(**options: Any) -> Iterator[ServerHandle]:
    """An embedded backend started with ``start()``'s options, stopped on the way out."""
    srv = start(**options)
    try:
        yield srv
    finally:
        srv.stop()


def backend_fixture(
    scope: Scope = "module",
    *,
    demo: bool = True,
    uses: Mapping[str, str] | None = None,
    doc: str | None = None,
    **options: Any,
) -> Any:
    """A fixture that starts an embedded backend, yields its handle and stops it.

    Args:
        scope: Who shares the instance (see the module docstring).
        demo: The demo workspace (the default) or an empty one.
        uses: ``start()`` options taken from other fixtures: ``{option: fixture name}``.
        doc: What the fixture is for (shown by ``pytest --fixtures``).
        **options: Other ``start()`` options (``tasks``, ``seed``, ``job_duration``...).
    """
    taken = dict(uses or {})

    def backend(request: pytest.FixtureRequest) -> Iterator[ServerHandle]:
        extra = {option: request.getfixturevalue(name) for option, name in taken.items()}
        with running(demo=demo, **options, **extra) as srv:
            yield srv

    backend.__doc__ = doc
    return pytest.fixture(scope=scope)(backend)


def client_fixture(
    server: str = "demo",
    scope: Scope = "module",
    *,
    kind: Callable[..., Any] = Client,
    cache: str | None = None,
    **options: Any,
) -> Any:
    """A fixture that yields a client of the backend fixture ``server`` and closes it after.

    Args:
        server: The name of the backend fixture.
        scope: At most the backend's scope.
        kind: The client class (:class:`Client` or ``BackendClient``).
        cache: A name for a private download cache (``cache_dir`` under pytest's temp
            folders); None: the class's default.
        **options: Other constructor options (``progress=False``...).
    """

    def client(request: pytest.FixtureRequest) -> Iterator[Any]:
        srv: ServerHandle = request.getfixturevalue(server)
        extra = dict(options)
        if cache is not None:
            extra["cache_dir"] = request.getfixturevalue("tmp_path_factory").mktemp(cache)
        with kind(srv.url, api_token=srv.token, **extra) as made:
            yield made

    return pytest.fixture(scope=scope)(client)


def api_fixture(server: str = "demo", scope: Scope = "module") -> Any:
    """A fixture that yields an :class:`ApiSession` as the admin of the backend ``server``."""

    def api(request: pytest.FixtureRequest) -> Iterator[ApiSession]:
        srv: ServerHandle = request.getfixturevalue(server)
        with ApiSession(srv.url, token_headers(srv.token)) as session:
            yield session

    return pytest.fixture(scope=scope)(api)
