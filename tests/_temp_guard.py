"""A pytest plugin: the session gets a private temp dir, and fails if anything is left in it.

Every temporary file or folder the suite creates — the embedded backends' data dirs
(``synapse-nb-*``), caches made by notebooks, files of subprocesses and notebook kernels (they
inherit ``$TMPDIR``) — lands in one folder made for this session. When the session ends (after
the session fixtures have stopped their servers), whatever is still in it apart from pytest's
own ``tmp_path`` folders is listed in the summary and fails the run; then the folder is removed,
so a run never leaves anything behind, failed or not.

``tests/conftest.py`` loads it for the whole suite; ``-p _temp_guard`` (with ``tests/`` on the
path) loads it into any other pytest session.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

#: pytest's own tmp_path folders (kept by pytest on purpose, removed with the session dir)
PYTEST_OWN = "pytest-of-"
_KEY = pytest.StashKey[dict]()


def pytest_configure(config: pytest.Config) -> None:
    if _KEY in config.stash:
        return
    private = Path(tempfile.mkdtemp(prefix="synapse-nb-session-"))
    config.stash[_KEY] = {
        "dir": private,
        "env": os.environ.get("TMPDIR"),
        "tempdir": tempfile.tempdir,
        "left": [],
    }
    os.environ["TMPDIR"] = str(private)
    tempfile.tempdir = str(private)


def leftovers(directory: Path) -> list[str]:
    """What is in ``directory`` apart from pytest's own folders, with sizes, largest first."""
    found = []
    for entry in directory.iterdir():
        if entry.name.startswith(PYTEST_OWN):
            continue
        files = [entry] if not entry.is_dir() else [p for p in entry.rglob("*") if p.is_file()]
        size = sum(p.lstat().st_size for p in files)
        found.append((size, f"{entry.name} ({size / 1e6:.1f} MB)"))
    return [text for _, text in sorted(found, reverse=True)]


@pytest.hookimpl(trylast=True)  # after the session fixtures were torn down
def pytest_sessionfinish(session: pytest.Session) -> None:
    state = session.config.stash.get(_KEY, None)
    if state is None or "done" in state:
        return
    state["done"] = True
    state["left"] = leftovers(state["dir"])
    shutil.rmtree(state["dir"], ignore_errors=True)
    if state["env"] is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = state["env"]
    tempfile.tempdir = state["tempdir"]
    if state["left"] and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    state = terminalreporter.config.stash.get(_KEY, None)
    if not state or not state["left"] or "reported" in state:
        return
    state["reported"] = True  # once, even when loaded both by -p and by a conftest
    terminalreporter.section("temporary files left behind", sep="=", red=True, bold=True)
    terminalreporter.line(
        "The run failed: these were left in the session's temp dir (now removed):", red=True
    )
    for text in state["left"]:
        terminalreporter.line(f"  {text}")


def pytest_unconfigure(config: pytest.Config) -> None:
    """Repeat the verdict after pytest's own closing line, where a reader looks for it."""
    state = config.stash.get(_KEY, None)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if not state or not state["left"] or "closed" in state or reporter is None:
        return
    state["closed"] = True
    count = len(state["left"])
    reporter.write_line(
        f"FAILED: {count} item(s) left behind in the temp dir (listed above)", red=True, bold=True
    )
