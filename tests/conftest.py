"""Shared fixtures: one embedded backend per session, reached over real HTTP on 127.0.0.1."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import _temp_guard  # a private temp dir per session; the run fails if anything is left in it
import pytest
from _temp_guard import (  # noqa: F401  (hooks)
    pytest_configure,
    pytest_sessionfinish,
    pytest_unconfigure,
)
from demo_backends import ApiSession, backend_fixture, running, token_headers

from synapse_nb.server import ServerHandle

#: system programs some tests need: (what skips without it, the skip reasons' keyword, install)
SYSTEM_TOOLS = {
    "chromium": ("browser tests", "chromium", "apt-get install chromium"),
    "ffmpeg": ("video tests", "ffmpeg", "apt-get install ffmpeg"),
}


def pytest_report_header(config: pytest.Config) -> list[str]:
    found = {name: shutil.which(name) is not None for name in SYSTEM_TOOLS}
    parts = [f"{name} {'found' if ok else 'MISSING'}" for name, ok in found.items()]
    return ["system tools: " + ", ".join(parts)]


def skipped_for_tools(reports: list[pytest.TestReport]) -> dict[str, int]:
    """How many skipped tests name each system tool in their skip reason."""
    counts = dict.fromkeys(SYSTEM_TOOLS, 0)
    for report in reports:
        reason = str(report.longrepr[-1] if isinstance(report.longrepr, tuple) else "")
        for name, (_, keyword, _) in SYSTEM_TOOLS.items():
            if keyword in reason:
                counts[name] += 1
    return counts


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    _temp_guard.pytest_terminal_summary(terminalreporter)
    counts = skipped_for_tools(terminalreporter.stats.get("skipped", []))
    for name, count in counts.items():
        if count:
            what, _, install = SYSTEM_TOOLS[name]
            terminalreporter.write_sep(
                "=", f"{count} {what} SKIPPED: {name} is not installed ({install})", yellow=True
            )


#: tasks bulk-seeded into the session server's scale project (pagination needs several pages)
SEEDED_TASKS = 150


@pytest.fixture(scope="session", autouse=True)
def scratch_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The package's scratch root (``get_temp_path``, by default ``<temp>/datamaker``, a cache
    kept between runs like the Synapse SDK's) points into pytest's temp folders, which go with
    the session, instead of the system temp dir."""
    root = tmp_path_factory.mktemp("scratch")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SYNAPSE_NB_TEMP_DIR", str(root))
        yield root


@pytest.fixture(scope="session")
def server() -> Iterator[ServerHandle]:
    """A shared backend with a bulk-seeded project; mutating tests create their own objects."""
    with running(tasks=SEEDED_TASKS) as srv:
        srv.state.ensure_user("outsider", "acme")
        yield srv


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


fresh_server = backend_fixture(
    "function",
    demo=False,
    doc="A private backend for tests that change server-wide settings (faults, latency).",
)
