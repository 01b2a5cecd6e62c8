"""The suite leaves nothing in the temp dir: the guard of ``tests/_temp_guard.py`` proves it.

Each check runs a small pytest session in a subprocess with the guard loaded and its own
``$TMPDIR``, so what it leaves (or not) is seen exactly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


def run_session(tmp_path: Path, body: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run ``body`` as a test module under the guard; return the run and what stayed in TMPDIR."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_it.py").write_text(textwrap.dedent(body))
    temp = tmp_path / "temp"
    temp.mkdir()
    env = dict(os.environ, TMPDIR=str(temp))
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "_temp_guard",
         "-o", "addopts=", "--rootdir", str(project), str(project)],
        cwd=project, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    return done, sorted(p.name for p in temp.iterdir())


def test_a_run_that_leaves_a_file_fails_and_names_it(tmp_path):
    done, remaining = run_session(
        tmp_path,
        """
        import tempfile

        def test_leaks():
            tempfile.mkdtemp(prefix="synapse-cache-")
        """,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "temporary files left behind" in done.stdout
    assert "synapse-cache-" in done.stdout
    closing = "FAILED: 1 item(s) left behind in the temp dir (listed above)"
    assert done.stdout.splitlines()[-1] == closing
    assert remaining == []  # reported, then removed all the same


def test_a_server_that_is_stopped_leaves_nothing(tmp_path):
    done, remaining = run_session(
        tmp_path,
        """
        import tempfile
        from synapse_nb.server import start

        def test_server(tmp_path):
            (tmp_path / "kept-by-pytest.txt").write_text("pytest's own tmp_path is fine")
            with start(tasks=20) as srv:
                assert srv.data_dir.parent == __import__("pathlib").Path(tempfile.gettempdir())
        """,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "left behind" not in done.stdout
    assert remaining == []


def test_tests_skipped_for_a_missing_system_tool_are_counted_in_the_summary(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_it.py").write_text(
        textwrap.dedent(
            """
            import pytest

            @pytest.mark.parametrize("n", range(3))
            def test_needs_a_browser(n):
                pytest.skip("/usr/bin/chromium is missing (apt-get install chromium)")

            def test_plain():
                pass
            """
        )
    )
    env = dict(os.environ, TMPDIR=str(tmp_path))
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "conftest",
         "-o", "addopts=", "--rootdir", str(project), str(project)],
        cwd=project, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 browser tests SKIPPED: chromium is not installed (apt-get install chromium)" in (
        done.stdout
    )
    assert "video tests SKIPPED" not in done.stdout


def _repo_status(repo: Path) -> set[str]:
    done = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=repo, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return set(done.stdout.splitlines())


def test_doctests_that_write_files_leave_the_repository_clean() -> None:
    """An example's files land in its temp dir, also when run from the repository root, and
    even when pytest runs without this project's conftest (the example writes below ``tmp``)."""
    repo = TESTS.parent
    if shutil.which("git") is None or not (repo / ".git").exists():
        pytest.skip("not a git checkout")
    module = "synapse_nb/utils/file/io.py"
    before = _repo_status(repo)
    runs = {
        "project conftest": ["-o", "addopts=", module],
        "no conftest": ["-o", "addopts=", "--noconftest", "--doctest-modules", module],
    }
    env = dict(os.environ, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")  # pytest's own plugins suffice
    outputs = {}
    for name, args in runs.items():
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
            cwd=repo, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        outputs[name] = done
    assert outputs["project conftest"].returncode == 0, outputs["project conftest"].stdout
    assert "2 passed" in outputs["project conftest"].stdout
    assert _repo_status(repo) - before == set(), {k: v.stdout[-600:] for k, v in outputs.items()}
