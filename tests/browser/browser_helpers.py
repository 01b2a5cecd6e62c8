"""Browser-test harness: a real Jupyter server in a subprocess, driven by headless Chromium.

Two pieces, both frontend-agnostic (JupyterLab 4 and Notebook 7 share the lumino menus and the
``window.jupyterapp`` object):

* :class:`JupyterServer` starts ``python -m jupyterlab`` or ``python -m notebook`` on 127.0.0.1
  with a free port, a random token and isolated runtime/config/data dirs. The installed
  labextensions live under ``sys.prefix`` and stay visible; the server's page config is checked
  for them right after start, so a broken install fails loudly instead of as "model not found".
* :class:`NotebookPage` writes a notebook with nbformat, opens it, clicks Run > Run All Cells,
  waits until every cell has finished, collects cell errors and takes screenshots under
  ``test-artifacts/browser/``.

The token never appears in URLs (the browser context sends it as an ``Authorization`` header),
reprs, or messages: recorded console text and server logs are redacted.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import nbformat
import requests
from playwright.sync_api import BrowserContext, Locator, Page, expect
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

CHROMIUM = Path("/usr/bin/chromium")
#: Playwright's own browser download does not work here; these make Debian's chromium quiet,
#: offline and root-safe.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

Frontend = Literal["lab", "notebook"]

#: labextensions the widget tests depend on; checked in the served page config
REQUIRED_EXTENSIONS = ("@jupyter-widgets/jupyterlab-manager", "ipytree")

#: browser console lines that mean a widget did not render
WIDGET_FAILURE = re.compile(
    r"model not found|Could not create (a )?(model|view)|Class \S+ not found in module"
    r"|Error displaying widget|No version of module",
    re.IGNORECASE,
)

#: tries with a fresh port when another process took the probed one first
_PORT_ATTEMPTS = 3
#: long enough for a cold kernel on a loaded 2-core CI machine
START_TIMEOUT_S = 90.0
RUN_TIMEOUT_S = 120.0


class _PortTaken(RuntimeError):
    """The server could not bind the port :func:`free_port` had found free."""


@dataclass(frozen=True)
class _AppSpec:
    module: str
    page: str  # a page whose HTML carries the page config
    open_path: str  # URL path that opens a notebook, relative to the server root


_APPS: dict[str, _AppSpec] = {
    # ?reset: start from an empty workspace, or Lab reopens (and starts kernels for) the
    # notebooks of earlier tests
    "lab": _AppSpec("jupyterlab", "lab", "lab/tree/{path}?reset"),
    "notebook": _AppSpec("notebook", "tree", "notebooks/{path}"),
}

#: written into the isolated JUPYTER_CONFIG_DIR; read by both frontends' servers
_SERVER_CONFIG: dict[str, Any] = {
    # the harness reads kernel and cell state through the app object instead of scraping prompts
    "LabApp": {
        "expose_app_in_browser": True,
        "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
        "extension_manager": "readonly",
    },
    "JupyterNotebookApp": {"expose_app_in_browser": True},
    # no scan for language servers on every start: it costs seconds and nothing here uses it
    "LanguageServerManager": {"autodetect": False},
}
#: the "get notified about Jupyter news?" toast would cover widgets in the screenshots
_PAGE_CONFIG: dict[str, Any] = {
    "disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago.

    Example:
        >>> 0 < free_port() < 65536
        True
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def chromium_missing_reason() -> str | None:
    """Why browser tests cannot run here, or ``None`` when Debian's chromium is installed.

    Example:
        >>> chromium_missing_reason() in (None, f"{CHROMIUM} is missing (apt-get install chromium)")
        True
    """
    if CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK):
        return None
    return f"{CHROMIUM} is missing (apt-get install chromium)"


@dataclass
class JupyterServer:
    """A JupyterLab or Notebook 7 server in a subprocess, isolated from the user's Jupyter dirs.

    Example:
        >>> srv = JupyterServer.start("lab", tmp_path)  # doctest: +SKIP
        >>> srv.open_url("demo.ipynb")  # doctest: +SKIP
        'http://127.0.0.1:41234/lab/tree/demo.ipynb?reset'
        >>> srv.stop()  # doctest: +SKIP
    """

    frontend: Frontend
    url: str
    notebook_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)
    token: str = field(repr=False)

    @classmethod
    def start(cls, frontend: Frontend, base_dir: Path, timeout: float = START_TIMEOUT_S):
        """Start the server, wait until it answers and its widget labextensions are served.

        Args:
            frontend: ``"lab"`` (JupyterLab 4) or ``"notebook"`` (Notebook 7).
            base_dir: an empty directory for notebooks, runtime, config, data and the log.
            timeout: seconds to wait for the server to answer.

        Returns:
            The running server; call :meth:`stop` when done.

        Raises:
            ValueError: ``frontend`` is not one of ``lab`` or ``notebook``.
            RuntimeError: the server exited, did not answer in time, or lacks a labextension.

        Example:
            >>> srv = JupyterServer.start("notebook", tmp_path)  # doctest: +SKIP
        """
        if frontend not in _APPS:
            raise ValueError(f"frontend must be one of {sorted(_APPS)}, got {frontend!r}")
        env = _isolated_env(base_dir)
        token = secrets.token_hex(24)
        env["JUPYTER_TOKEN"] = token  # not on the command line, where `ps` would show it
        for attempt in range(_PORT_ATTEMPTS):
            server = cls._launch(frontend, base_dir, env, token)
            try:
                server._wait_ready(timeout)
                server._check_extensions(_APPS[frontend].page)
                return server
            except _PortTaken:
                # another process took the free port between probe and bind: try a new one
                if attempt == _PORT_ATTEMPTS - 1:
                    raise
            except BaseException:
                server.stop()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    @classmethod
    def _launch(cls, frontend: Frontend, base_dir: Path, env: dict[str, str], token: str):
        notebook_dir = base_dir / "notebooks"
        notebook_dir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        cmd = [
            sys.executable,
            "-m",
            _APPS[frontend].module,
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            # fail instead of silently moving to another port than the one we poll
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={notebook_dir}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        log_path = base_dir / "jupyter.log"
        with log_path.open("wb") as log:
            # cwd=base_dir: jupyter also reads config files from the working directory
            process = subprocess.Popen(
                cmd, cwd=base_dir, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        return cls(frontend, f"http://127.0.0.1:{port}/", notebook_dir, log_path, process, token)

    @property
    def auth_headers(self) -> dict[str, str]:
        """The header that authenticates the browser and API calls.

        Example:
            >>> sorted(server.auth_headers)  # doctest: +SKIP
            ['Authorization']
        """
        return {"Authorization": f"token {self.token}"}

    def open_url(self, path: str) -> str:
        """The URL that opens notebook ``path`` (relative to the notebook dir) in this frontend.

        Example:
            >>> server.open_url("a.ipynb").endswith("/lab/tree/a.ipynb?reset")  # doctest: +SKIP
            True
        """
        return self.url + _APPS[self.frontend].open_path.format(path=path)

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call the Jupyter server's REST API (``path`` relative to ``/api/``).

        Example:
            >>> server.api("GET", "status").json()["kernels"]  # doctest: +SKIP
            0
        """
        kwargs.setdefault("timeout", 30)
        return requests.request(
            method, f"{self.url}api/{path}", headers=self.auth_headers, **kwargs
        )

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the server log, token redacted.

        Example:
            >>> "ServerApp" in server.log_tail()  # doctest: +SKIP
            True
        """
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return self.redact(text[-chars:])

    def redact(self, text: str) -> str:
        """``text`` with this server's token replaced.

        Example:
            >>> server.redact(f"?token={server.token}")  # doctest: +SKIP
            '?token=<redacted>'
        """
        return text.replace(self.token, "<redacted>")

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the server (it shuts its kernels down on SIGTERM); kill it if it hangs.

        Example:
            >>> server.stop()  # doctest: +SKIP
        """
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            # the server's own session: its kernels go with it
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                exc = _PortTaken if "already in use" in self.log_tail() else RuntimeError
                raise exc(
                    f"jupyter {self.frontend} exited with code {self.process.returncode}:\n"
                    + self.log_tail()
                )
            try:
                if self.api("GET", "status", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(
            f"jupyter {self.frontend} did not answer on {self.url} within {timeout:.0f} s:\n"
            + self.log_tail()
        )

    def _check_extensions(self, page: str) -> None:
        html = requests.get(self.url + page, headers=self.auth_headers, timeout=30)
        html.raise_for_status()
        found = {ext["name"] for ext in page_config(html.text).get("federated_extensions", [])}
        missing = [name for name in REQUIRED_EXTENSIONS if name not in found]
        if missing:
            raise RuntimeError(
                f"jupyter {self.frontend} does not serve labextension(s) {missing}; served: "
                f"{sorted(found)}. Labextensions are looked up under {sys.prefix}/share/jupyter "
                "and JUPYTER_DATA_DIR; is the isolation hiding them?"
            )


def page_config(html: str) -> dict[str, Any]:
    """The ``jupyter-config-data`` JSON embedded in a JupyterLab/Notebook page.

    Example:
        >>> page_config('<script id="jupyter-config-data" type="application/json">'
        ...             '{"appName": "JupyterLab"}</script>')
        {'appName': 'JupyterLab'}
    """
    match = re.search(
        r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', html, re.S
    )
    if match is None:
        raise ValueError("page has no jupyter-config-data script")
    return json.loads(match.group(1))


def _isolated_env(base_dir: Path) -> dict[str, str]:
    """Environment with private Jupyter/IPython dirs; the kernel is the current interpreter."""
    dirs = {
        "JUPYTER_RUNTIME_DIR": base_dir / "runtime",
        "JUPYTER_CONFIG_DIR": base_dir / "config",
        "JUPYTER_DATA_DIR": base_dir / "data",
        # a user's IPython startup files must not run in the test kernel
        "IPYTHONDIR": base_dir / "ipython",
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    config = dirs["JUPYTER_CONFIG_DIR"]
    (config / "jupyter_server_config.json").write_text(json.dumps(_SERVER_CONFIG, indent=1))
    (config / "labconfig").mkdir(exist_ok=True)
    (config / "labconfig" / "page_config.json").write_text(json.dumps(_PAGE_CONFIG, indent=1))
    # the user data dir comes first in the kernelspec search, so this shadows any other python3
    kernel_dir = dirs["JUPYTER_DATA_DIR"] / "kernels" / "python3"
    kernel_dir.mkdir(parents=True, exist_ok=True)
    kernel = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    (kernel_dir / "kernel.json").write_text(json.dumps(kernel, indent=1))
    env = {key: value for key, value in os.environ.items() if not key.startswith("JUPYTER")}
    env.update({key: str(path) for key, path in dirs.items()})
    return env


def new_notebook(cells: Iterable[str]) -> nbformat.NotebookNode:
    """A v4 notebook of code cells (a source starting with ``# %% md`` becomes markdown).

    Example:
        >>> nb = new_notebook(["# %% md\\n# Title", "1 + 1"])
        >>> [c.cell_type for c in nb.cells]
        ['markdown', 'code']
    """
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    for source in cells:
        if source.startswith("# %% md\n"):
            nb.cells.append(nbformat.v4.new_markdown_cell(source.removeprefix("# %% md\n")))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(source))
    nbformat.validate(nb)
    return nb


#: kernel status and per-cell state of the open notebook at ``path``, read from the app object
_STATE_JS = """
(path) => {
  const app = window.jupyterapp;
  // undefined until the app has started; stays undefined if expose_app_in_browser is off
  if (!app) return {app: false, found: false};
  let panel = null;
  for (const w of app.shell.widgets("main")) {
    if (w.context && w.context.path === path) { panel = w; break; }
  }
  if (!panel || !panel.content || !panel.content.model) return {app: true, found: false};
  const ctx = panel.sessionContext;
  const kernel = ctx.session && ctx.session.kernel;
  const cells = [];
  const list = panel.content.model.cells;
  for (let i = 0; i < list.length; i++) {
    const cell = list.get(i);
    const entry = {type: cell.type};
    if (cell.type === "code") {
      entry.count = cell.executionCount;
      entry.state = cell.executionState || null;
      entry.outputs = cell.outputs.toJSON();
    }
    cells.push(entry);
  }
  return {
    app: true,
    found: true,
    ready: ctx.isReady,
    kernel: kernel ? kernel.status : null,
    cells,
  };
}
"""

#: the notebook is open and its kernel is up and idle
_READY_JS = (
    "(path) => { const s = ("
    + _STATE_JS.strip()
    + ")(path); return s.found && s.ready && s.kernel === 'idle'; }"
)

#: finished: kernel idle, nothing queued, and every code cell ran unless an error stopped the run
_DONE_JS = (
    "(path) => { const s = ("
    + _STATE_JS.strip()
    + """)(path);
  if (!s.found || s.kernel !== "idle") return false;
  const code = s.cells.filter((c) => c.type === "code");
  if (code.some((c) => c.state === "running")) return false;
  const failed = code.some((c) => c.outputs.some((o) => o.output_type === "error"));
  return failed || code.every((c) => c.count !== null);
}"""
)


@dataclass
class NotebookPage:
    """A notebook open in the browser, with helpers to run it and inspect the result.

    Example:
        >>> nbp = NotebookPage.open(context, server, "demo", ["1 + 1"], artifacts)  # doctest: +SKIP
        >>> nbp.run_all()  # doctest: +SKIP
        >>> nbp.cell_errors()  # doctest: +SKIP
        []
    """

    name: str
    page: Page
    server: JupyterServer
    path: str
    artifacts: Path
    console: list[str] = field(default_factory=list)

    @classmethod
    def open(
        cls,
        context: BrowserContext,
        server: JupyterServer,
        name: str,
        cells: Iterable[str],
        artifacts: Path,
        timeout: float = START_TIMEOUT_S,
    ) -> NotebookPage:
        """Write ``<name>.ipynb`` into the server's notebook dir, open it, wait for the kernel.

        Args:
            context: a browser context that sends ``server.auth_headers``.
            server: the Jupyter server to open the notebook in.
            name: file stem of the notebook and of its screenshots (letters, digits, ``-_.``).
            cells: code cell sources, in order.
            artifacts: directory for screenshots and console logs.
            timeout: seconds to wait for the notebook and an idle kernel.

        Returns:
            The open notebook; the kernel is idle and nothing has run yet.

        Raises:
            ValueError: ``name`` has characters unsafe in a file name.

        Example:
            >>> NotebookPage.open(ctx, srv, "widgets", ["import ipywidgets"], out)  # doctest: +SKIP
        """
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
            raise ValueError(f"name must be a plain file stem, got {name!r}")
        path = f"{name}.ipynb"
        nbformat.write(new_notebook(cells), server.notebook_dir / path)
        page = context.new_page()
        nbp = cls(name, page, server, path, artifacts)
        page.on("console", nbp._record_console)
        page.on("pageerror", lambda exc: nbp.console.append(server.redact(f"[pageerror] {exc}")))
        page.goto(server.open_url(path), timeout=timeout * 1000)
        nbp._wait(_READY_JS, "an idle kernel", timeout)
        # more room for outputs in screenshots; Notebook 7 has no left area open anyway
        page.evaluate("() => window.jupyterapp.shell.collapseLeft?.()")
        return nbp

    def state(self) -> dict[str, Any]:
        """Kernel status and per-cell ``count``/``state``/``outputs`` as the frontend holds them.

        Example:
            >>> nbp.state()["kernel"]  # doctest: +SKIP
            'idle'
        """
        return self.page.evaluate(_STATE_JS, self.path)

    def run_all(self, timeout: float = RUN_TIMEOUT_S, screenshot: bool = True) -> None:
        """Click Run > Run All Cells and wait until every cell has finished.

        Args:
            timeout: seconds to wait for the run to finish.
            screenshot: save ``<name>.png`` afterwards (widgets may still be drawing; tests
                that assert on widgets should call :meth:`screenshot` again once they are).

        Raises:
            RuntimeError: cells have run already; the finish check needs a fresh notebook.

        Example:
            >>> nbp.run_all()  # doctest: +SKIP
        """
        counts = self.execution_counts()
        if any(count is not None for count in counts):
            # stale counts would satisfy the finish check before the new run even started
            raise RuntimeError(f"{self.name} has run already (counts {counts}); open it afresh")
        # by label, as a user would: the command id differs between Lab and Notebook 7
        self.page.locator('.lm-MenuBar-item:has(> .lm-MenuBar-itemLabel:text-is("Run"))').click()
        self.page.locator(
            '.lm-Menu-item:has(> .lm-Menu-itemLabel:text-is("Run All Cells"))'
        ).click()
        self._wait(_DONE_JS, "all cells to finish", timeout)
        if screenshot:
            self.screenshot(target=self.cell(-1))

    def execution_counts(self) -> list[int | None]:
        """Execution counts of the code cells, in order (``None`` = never ran).

        Example:
            >>> nbp.execution_counts()  # doctest: +SKIP
            [1, 2, 3]
        """
        return [c["count"] for c in self.state()["cells"] if c["type"] == "code"]

    def cell_errors(self) -> list[str]:
        """``"cell <i>: <ename>: <evalue>"`` for every error output, in cell order.

        Example:
            >>> nbp.cell_errors()  # doctest: +SKIP
            ['cell 2: NameError: name 'x' is not defined']
        """
        errors = []
        for index, cell in enumerate(self.state()["cells"]):
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    errors.append(f"cell {index}: {out.get('ename')}: {out.get('evalue')}")
        return errors

    def widget_errors(self) -> list[str]:
        """Signs that a widget failed to render: console lines and "Error displaying widget".

        Example:
            >>> nbp.widget_errors()  # doctest: +SKIP
            []
        """
        shown = self.page.locator(".jp-OutputArea-output", has_text="Error displaying widget")
        found = [f"[output] {text}" for text in shown.all_inner_texts()]
        return found + [line for line in self.console if WIDGET_FAILURE.search(line)]

    def assert_ran_cleanly(self) -> None:
        """Assert every code cell ran, no cell raised and no widget failed to render.

        Example:
            >>> nbp.assert_ran_cleanly()  # doctest: +SKIP
        """
        errors = self.cell_errors()
        assert not errors, f"{self.name}: cells raised {errors}"
        counts = self.execution_counts()
        assert all(isinstance(c, int) for c in counts), f"{self.name}: cells not run: {counts}"
        problems = self.widget_errors()
        assert not problems, f"{self.name}: widgets failed to render: {problems}"

    def cell(self, index: int) -> Locator:
        """The ``index``-th cell (markdown cells count) in the DOM.

        Example:
            >>> nbp.cell(0).locator(".jupyter-widgets").first  # doctest: +SKIP
        """
        return self.page.locator(".jp-Notebook .jp-Cell").nth(index)

    def output(self, index: int) -> Locator:
        """The output area of the ``index``-th cell.

        Example:
            >>> expect(nbp.output(1)).to_contain_text("2")  # doctest: +SKIP
        """
        return self.cell(index).locator(".jp-Cell-outputArea")

    def screenshot(self, suffix: str = "", target: Locator | None = None) -> Path:
        """Save the viewport as ``<artifacts>/<name><suffix>.png`` and return its path.

        Args:
            suffix: appended to the notebook name, e.g. ``"-after-click"``.
            target: scrolled into view first (JupyterLab scrolls the notebook, not the page,
                so a full-page screenshot would not show more).

        Example:
            >>> nbp.screenshot("-after-click", target=nbp.output(2)).name  # doctest: +SKIP
            'widgets-after-click.png'
        """
        if target is not None:
            target.scroll_into_view_if_needed()
        self.artifacts.mkdir(parents=True, exist_ok=True)
        path = self.artifacts / f"{self.name}{suffix}.png"
        self.page.screenshot(path=str(path))
        return path

    def save_console(self) -> Path:
        """Write the recorded console lines (token redacted) to ``<name>.console.txt``.

        Example:
            >>> nbp.save_console().suffix  # doctest: +SKIP
            '.txt'
        """
        self.artifacts.mkdir(parents=True, exist_ok=True)
        target = self.artifacts / f"{self.name}.console.txt"
        target.write_text("\n".join(self.console) + "\n")
        return target

    def shutdown_kernel(self) -> None:
        """Delete this notebook's session on the server, which stops its kernel.

        Example:
            >>> nbp.shutdown_kernel()  # doctest: +SKIP
        """
        for session in self.server.api("GET", "sessions").json():
            if session.get("path") == self.path:
                self.server.api("DELETE", f"sessions/{session['id']}")

    def _record_console(self, message: Any) -> None:
        self.console.append(self.server.redact(f"[{message.type}] {message.text}"))

    def _wait(self, predicate_js: str, what: str, timeout: float) -> None:
        try:
            self.page.wait_for_function(
                predicate_js, arg=self.path, timeout=timeout * 1000, polling=250
            )
        except PlaywrightTimeoutError:
            raise AssertionError(
                f"{self.name}: no {what} within {timeout:.0f} s; {self._describe()}"
            ) from None

    def _describe(self) -> str:
        """The frontend state in one line, for timeout messages."""
        try:
            state = self.state()
        except PlaywrightError as exc:
            return f"page state unreadable: {self.server.redact(str(exc))}"
        if not state.get("app"):
            return "window.jupyterapp never appeared (is expose_app_in_browser set?)"
        if not state.get("found"):
            return f"{self.path} is not open in the main area"
        cells = [(c.get("count"), c.get("state")) for c in state["cells"] if c["type"] == "code"]
        return (
            f"session ready={state['ready']}, kernel={state['kernel']}, "
            f"code cells (count, state)={cells}, errors={self.cell_errors()}"
        )


__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "REQUIRED_EXTENSIONS",
    "JupyterServer",
    "NotebookPage",
    "chromium_missing_reason",
    "expect",
    "free_port",
    "new_notebook",
    "page_config",
]
