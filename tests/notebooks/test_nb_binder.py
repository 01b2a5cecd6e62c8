"""Binder scripts, run directly (repo2docker cannot run here): ``binder/start`` and ``postBuild``.

``start`` is run the way repo2docker runs it, with the command it must ``exec`` at the end; a
small Python program stands in for Jupyter and reports what a notebook kernel would see.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
BINDER = REPO / "binder"

#: stands in for Jupyter: what would a kernel started by it see?
KERNEL_VIEW = textwrap.dedent(
    """
    import json, os
    from synapse_nb.session import connect, connection_source
    client = connect()
    tasks = client.list_tasks({"project": 1}, list_all=True)
    print(json.dumps({
        "url": os.environ.get("SYNAPSE_NB_URL"),
        "token": os.environ.get("SYNAPSE_API_TOKEN"),
        "source": connection_source(client),
        "tasks": len(tasks),
    }))
    """
)


def run_start(state: Path, command: list[str], **env: str) -> subprocess.CompletedProcess:
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SYNAPSE_NB_URL", "SYNAPSE_URL", "SYNAPSE_API_TOKEN")
    }
    environment.update({"SYNAPSE_NB_BINDER_DIR": str(state), "PYTHON": sys.executable, **env})
    return subprocess.run(
        [str(BINDER / "start"), *command],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    """The start script's state dir; the backend it launched is stopped afterwards."""
    directory = tmp_path / "binder-state"
    yield directory
    pid_file = directory / "backend.pid"
    if pid_file.exists():
        pid = int(pid_file.read_text())
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)


def test_start_launches_the_backend_and_execs_jupyter_with_its_url(state):
    done = run_start(state, [sys.executable, "-c", KERNEL_VIEW])
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["source"] == "the embedded backend of `synapse-nb demo` / Binder ($SYNAPSE_NB_URL)"
    assert seen["tasks"] == 240
    assert seen["url"].startswith("http://127.0.0.1:") and len(seen["token"]) == 40

    # the backend outlives the script (Jupyter replaced it) and answers this process too
    headers = {"Synapse-Access-Token": f"Token {seen['token']}"}
    reply = requests.get(seen["url"] + "projects/", headers=headers, timeout=10)
    assert reply.status_code == 200 and reply.json()["count"] == 3
    assert requests.get(seen["url"] + "projects/", timeout=10).status_code == 401

    log = (state / "backend.log").read_text()
    assert seen["url"] in log
    assert seen["token"] not in log and "token: ***" in log
    assert seen["token"] not in done.stdout.rsplit("\n", 2)[0] + done.stderr


def test_start_still_starts_jupyter_when_the_backend_cannot_start(state):
    view = "import os; print(os.environ.get('SYNAPSE_NB_URL'), os.environ.get('SYNAPSE_API_TOKEN'))"
    done = run_start(state, [sys.executable, "-c", view], PYTHON="/bin/false")
    assert done.returncode == 0
    assert done.stdout.strip().splitlines()[-1] == "None None"
    assert "the notebooks will start their own" in done.stderr


def test_start_passes_jupyters_arguments_and_exit_code_through(state):
    done = run_start(state, ["sh", "-c", 'echo "$0|$1"; exit 7', "--ip=0.0.0.0", "--port=8888"])
    assert done.returncode == 7
    assert done.stdout.strip().splitlines()[-1] == "--ip=0.0.0.0|--port=8888"


@pytest.mark.slow
def test_postbuild_checks_the_widget_extensions_and_caches_the_demo_media(tmp_path):
    cache = tmp_path / "cache"
    environment = dict(os.environ, SYNAPSE_NB_CACHE=str(cache), PYTHON=sys.executable)
    done = subprocess.run(
        [str(BINDER / "postBuild")],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "demo media cached" in done.stdout
    images = [p for p in cache.rglob("*") if p.suffix in (".jpg", ".png")]
    assert len(images) >= 240


def test_postbuild_fails_the_build_without_the_widget_extensions(tmp_path):
    fake = tmp_path / "python"
    # a "python" whose jupyter knows no extensions; postBuild must stop before seeding
    fake.write_text(
        '#!/bin/sh\nif [ "$2" = "jupyter" ]; then echo "no extensions"; exit 0; fi\nexit 3\n'
    )
    fake.chmod(0o755)
    environment = dict(os.environ, PYTHON=str(fake))
    done = subprocess.run(
        [str(BINDER / "postBuild")], cwd=REPO, env=environment, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "@jupyter-widgets/jupyterlab-manager is not installed" in done.stderr


def test_binder_environment_installs_this_package_on_a_supported_python():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    lines = [
        line.split("#", 1)[0].strip()
        for line in (BINDER / "requirements.txt").read_text().splitlines()
    ]
    assert [line for line in lines if line] == ["-c ../requirements/constraints.txt", ".[lab,ray]"]
    assert (BINDER / "../requirements/constraints.txt").is_file()  # pip: relative to the file
    assert {"lab", "ray"} <= set(project["optional-dependencies"])
    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert runtime.startswith("python-3.")
    minor = int(runtime.removeprefix("python-3.").split(".")[0])
    assert project["requires-python"] == ">=3.11" and minor >= 11
    for script in ("postBuild", "start"):
        assert os.access(BINDER / script, os.X_OK), f"binder/{script} is not executable"


def test_binder_installs_the_system_packages_the_notebooks_use():
    packages = [
        line.split("#", 1)[0].strip() for line in (BINDER / "apt.txt").read_text().splitlines()
    ]
    assert "ffmpeg" in packages  # the video utilities call ffmpeg and ffprobe


def load_badge_tool():
    spec = importlib.util.spec_from_file_location("binder_badge", BINDER / "badge.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_badge_opens_the_repository_named_in_pyproject():
    tool = load_badge_tool()
    slug = tool.repository()
    assert tool.badge(slug) in (REPO / "README.md").read_text().splitlines()


def test_badge_tool_sets_the_repository_in_one_place_and_rewrites_the_badge(tmp_path):
    tool = load_badge_tool()
    for name in ("pyproject.toml", "README.md"):
        (tmp_path / name).write_text((REPO / name).read_text())
    assert tool.main(["example-org/synapse-nb"], root=tmp_path) == 0
    assert tool.repository(tmp_path) == "example-org/synapse-nb"
    readme = (tmp_path / "README.md").read_text()
    assert "https://mybinder.org/v2/gh/example-org/synapse-nb/HEAD?urlpath=lab/tree/" in readme
    assert readme.count("mybinder.org/v2/gh/") == 1
    assert tool.main(["not a repo"], root=tmp_path) == 2
    assert tool.repository(tmp_path) == "example-org/synapse-nb"
