"""Fixtures of the browser tests: JupyterLab 4 / Notebook 7 servers and headless Chromium.

The browser and the servers are package-scoped (this directory is a package for that reason):
they start on first use, are shared by every test here, and stop when the last browser test
has run rather than at the end of the whole session.

A test asks :func:`notebooks` for a runner and opens notebooks through it::

    nbp = notebooks.run("lab", "my-widget", ["import ipywidgets as w", "w.IntSlider()"])
    expect(nbp.output(1).locator(".widget-slider")).to_be_visible()

Screenshots and console logs land in ``test-artifacts/browser/`` under the rootdir; a failing
test also gets ``<name>-failed.png``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, expect, sync_playwright

from .browser_helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Frontend,
    JupyterServer,
    NotebookPage,
    chromium_missing_reason,
)

#: Playwright's default is 30 s; a cold kernel plus widget bundles on a busy CI box can exceed it
DEFAULT_TIMEOUT_MS = 60_000
VIEWPORT = {"width": 1280, "height": 900}
# expect() polls for 5 s by default; a kernel round trip on a loaded CI box can take longer
expect.set_options(timeout=30_000)

_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


@pytest.fixture(scope="package")
def artifacts_dir(pytestconfig: pytest.Config) -> Path:
    """``test-artifacts/browser`` under the rootdir (gitignored)."""
    path = pytestconfig.rootpath / "test-artifacts" / "browser"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="package")
def chromium() -> Iterator[Browser]:
    """Debian's headless Chromium driven by Playwright; skips when it is not installed."""
    reason = chromium_missing_reason()
    if reason:
        pytest.skip(reason)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="package")
def jupyter_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """JupyterLab 4 on 127.0.0.1 with isolated Jupyter dirs and the widget labextensions."""
    server = JupyterServer.start("lab", tmp_path_factory.mktemp("jupyterlab"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def jupyter_notebook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """Notebook 7 on 127.0.0.1 with isolated Jupyter dirs and the widget labextensions."""
    server = JupyterServer.start("notebook", tmp_path_factory.mktemp("notebook7"))
    try:
        yield server
    finally:
        server.stop()


class NotebookRunner:
    """Opens notebooks in a fresh browser context per server; cleans up after the test.

    Example:
        >>> nbp = notebooks.run("notebook", "slider", ["import ipywidgets as w; w.IntSlider()"])
        ... # doctest: +SKIP
    """

    def __init__(self, request: pytest.FixtureRequest, browser: Browser, artifacts: Path):
        self._request = request
        self._browser = browser
        self._artifacts = artifacts
        self._contexts: dict[str, BrowserContext] = {}
        self.pages: list[NotebookPage] = []

    def server(self, frontend: Frontend) -> JupyterServer:
        """The package's server for ``frontend`` (started on first use).

        Example:
            >>> notebooks.server("lab").frontend  # doctest: +SKIP
            'lab'
        """
        if frontend not in ("lab", "notebook"):
            raise ValueError(f"frontend must be 'lab' or 'notebook', got {frontend!r}")
        return self._request.getfixturevalue(f"jupyter_{frontend}")

    def open(self, frontend: Frontend, name: str, cells: Iterable[str]) -> NotebookPage:
        """Write and open notebook ``name`` in ``frontend``; the kernel is idle, nothing ran.

        Example:
            >>> nbp = notebooks.open("lab", "empty", [])  # doctest: +SKIP
        """
        server = self.server(frontend)
        nbp = NotebookPage.open(self._context(server), server, name, cells, self._artifacts)
        self.pages.append(nbp)
        return nbp

    def run(self, frontend: Frontend, name: str, cells: Iterable[str]) -> NotebookPage:
        """Open notebook ``name``, Run All, wait for it, save ``<name>.png``.

        Example:
            >>> notebooks.run("lab", "hello", ["print('hi')"]).cell_errors()  # doctest: +SKIP
            []
        """
        nbp = self.open(frontend, name, cells)
        nbp.run_all()
        return nbp

    def close(self, failed: bool) -> None:
        for nbp in self.pages:
            try:
                if failed and not nbp.page.is_closed():
                    nbp.screenshot("-failed")
                nbp.save_console()
                nbp.shutdown_kernel()
            except Exception as exc:  # cleanup must not hide the test's own outcome
                print(f"browser cleanup of {nbp.name} failed: {exc!r}")
        for context in self._contexts.values():
            context.close()

    def _context(self, server: JupyterServer) -> BrowserContext:
        if server.url not in self._contexts:
            context = self._browser.new_context(
                viewport=VIEWPORT, extra_http_headers=server.auth_headers
            )
            context.set_default_timeout(DEFAULT_TIMEOUT_MS)
            self._contexts[server.url] = context
        return self._contexts[server.url]


@pytest.fixture
def notebooks(
    request: pytest.FixtureRequest, chromium: Browser, artifacts_dir: Path
) -> Iterator[NotebookRunner]:
    """A :class:`NotebookRunner`; failing tests leave ``<name>-failed.png`` behind."""
    runner = NotebookRunner(request, chromium, artifacts_dir)
    yield runner
    reports = request.node.stash.get(_REPORTS, {})
    runner.close(failed=any(rep.failed for rep in reports.values()))
