"""The harness itself: isolation, the kernel it runs, error collection, token hygiene.

A harness that hid cell errors or hung on them would make every widget test meaningless, so
the failing paths are exercised here too.
"""

from __future__ import annotations

import doctest
import socket
import sys

import pytest

from . import browser_helpers
from .browser_helpers import JupyterServer, NotebookPage, expect, new_notebook, page_config


def test_helper_doctests():
    result = doctest.testmod(browser_helpers, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 4
    assert result.failed == 0


def test_bad_frontend_is_rejected_before_anything_starts(tmp_path):
    with pytest.raises(ValueError, match=r"frontend must be one of .*'voila'"):
        JupyterServer.start("voila", tmp_path)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_unsafe_notebook_name_is_rejected(tmp_path):
    with pytest.raises(ValueError, match=r"name must be a plain file stem, got '\.\./x'"):
        NotebookPage.open(None, None, "../x", [], tmp_path)  # type: ignore[arg-type]


def test_page_config_requires_the_config_script():
    assert page_config(
        '<script id="jupyter-config-data" type="application/json">{"a": [1]}</script>'
    ) == {"a": [1]}
    with pytest.raises(ValueError, match="jupyter-config-data"):
        page_config("<html></html>")


def test_new_notebook_pins_the_python3_kernel():
    nb = new_notebook(["print(1)"])
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.cells[0].source == "print(1)"


@pytest.mark.browser
def test_run_all_reports_errors_and_stops_like_jupyter(notebooks):
    nbp = notebooks.run(
        "lab",
        "harness-errors",
        [
            "import sys\nprint(sys.executable)",
            "raise ValueError('boom in cell 1')",
            "print('never runs')",
        ],
    )
    # Run All stops at the first error, as in Jupyter; the harness must still finish
    assert nbp.execution_counts() == [1, 2, None]
    assert nbp.cell_errors() == ["cell 1: ValueError: boom in cell 1"]
    with pytest.raises(AssertionError, match="boom in cell 1"):
        nbp.assert_ran_cleanly()
    with pytest.raises(RuntimeError, match=r"has run already \(counts \[1, 2, None\]\)"):
        nbp.run_all()
    # the isolated server still runs kernels on this interpreter
    expect(nbp.output(0)).to_have_text(sys.executable)

    server = notebooks.server("lab")
    assert server.token not in nbp.page.url
    assert server.token not in repr(server)
    assert server.token not in "\n".join(nbp.console)
    sessions = server.api("GET", "sessions").json()
    assert [s["path"] for s in sessions] == ["harness-errors.ipynb"]


@pytest.mark.browser
def test_server_moves_on_when_the_probed_port_is_taken(tmp_path, monkeypatch):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        ports = iter([taken])
        real_free_port = browser_helpers.free_port
        monkeypatch.setattr(browser_helpers, "free_port", lambda: next(ports, real_free_port()))
        server = JupyterServer.start("notebook", tmp_path)
        try:
            assert server.url != f"http://127.0.0.1:{taken}/"
            assert server.api("GET", "status").ok
            assert (tmp_path / "data" / "kernels" / "python3" / "kernel.json").is_file()
        finally:
            server.stop()
        assert server.process.returncode is not None
