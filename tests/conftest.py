"""Shared fixtures: one embedded backend per session, reached over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urljoin

import pytest
import requests

from synapse_nb.server import ServerHandle, start

#: tasks bulk-seeded into the session server's scale project (pagination needs several pages)
SEEDED_TASKS = 150


class ApiSession(requests.Session):
    """A ``requests.Session`` that resolves relative paths against the server's base URL.

    Example:
        >>> api.get("projects/").json()["count"]  # doctest: +SKIP
    """

    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        super().__init__()
        self.base_url = base_url
        self.headers.update(headers or {})

    def request(self, method: str, url: str, *args, **kwargs) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", 30)
        return super().request(method, urljoin(self.base_url, url), *args, **kwargs)


def token_headers(token: str) -> dict[str, str]:
    return {"Synapse-Access-Token": f"Token {token}"}


@pytest.fixture(scope="session")
def server() -> Iterator[ServerHandle]:
    """A shared backend with a bulk-seeded project; mutating tests create their own objects."""
    srv = start(tasks=SEEDED_TASKS, job_duration=0.5)
    srv.state.ensure_user("outsider", "acme")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def api(server: ServerHandle) -> Iterator[ApiSession]:
    """Authenticated as the admin of the seeded tenant."""
    with ApiSession(server.url, token_headers(server.token)) as session:
        yield session


@pytest.fixture(scope="session")
def outsider(server: ServerHandle) -> Iterator[ApiSession]:
    """Authenticated as a user of another tenant ("acme"), who must never see our objects."""
    with ApiSession(server.url, token_headers(server.issue_token("outsider"))) as session:
        yield session


@pytest.fixture(scope="session")
def anon(server: ServerHandle) -> Iterator[ApiSession]:
    """No credentials at all."""
    with ApiSession(server.url) as session:
        yield session


@pytest.fixture
def fresh_server() -> Iterator[ServerHandle]:
    """A private backend for tests that change server-wide settings (faults, latency)."""
    srv = start(job_duration=0.5)
    try:
        yield srv
    finally:
        srv.stop()
