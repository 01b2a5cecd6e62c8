"""The ``synapse-nb`` command end to end: real processes, real HTTP, clean shutdown on SIGINT."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from synapse_nb.cli import default_work_dir, prepare_work_dir


def test_serve_prints_url_and_token_and_answers(tmp_path):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "synapse_nb.cli",
            "serve",
            "--port",
            "0",
            "--tasks",
            "120",
            "--data-dir",
            str(tmp_path / "data"),
            "--token",
            "cli-test-token",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        text = "".join(lines)
        url = re.search(r"URL:\s+(\S+)", text).group(1)
        assert re.search(r"token:\s+cli-test-token", text)
        page = requests.get(
            url + "sdk/tasks/", timeout=10, headers={"Synapse-Access-Token": "Token cli-test-token"}
        )
        assert page.status_code == 200 and page.json()["count"] == 120
        assert requests.get(url + "sdk/tasks/", timeout=10).status_code == 401
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0, "".join(lines)


# --- synapse-nb demo: what it needs, where it serves from, where its token goes -------------

REPO = Path(__file__).resolve().parents[1]

#: stands in for ``python -m jupyterlab``: reports what it was given, then exits
FAKE_LAB = """
import json, os, sys
notebook_dir = next(a.split("=", 1)[1] for a in sys.argv if a.startswith("--notebook-dir="))
print("FAKE-LAB " + json.dumps({
    "argv": sys.argv,
    "token": os.environ.get("JUPYTER_TOKEN"),
    "backend": os.environ.get("SYNAPSE_NB_URL"),
    "notebooks": sorted(os.listdir(notebook_dir)),
    "notebook_dir": notebook_dir,
}), flush=True)
"""


def _clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SYNAPSE_NB_URL", "SYNAPSE_URL", "SYNAPSE_API_TOKEN", "JUPYTER_TOKEN")
    }
    env.update(extra)
    return env


def test_demo_without_jupyterlab_says_what_to_install_and_starts_nothing(tmp_path):
    code = (
        "import sys; sys.modules['jupyterlab'] = None\n"  # as if the lab extra were missing
        "from synapse_nb.cli import main\n"
        f"raise SystemExit(main(['demo', '--no-browser', '--data-dir', {str(tmp_path / 'data')!r},"
        f" '--work-dir', {str(tmp_path / 'work')!r}]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env=_clean_env(),
        cwd=REPO,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "JupyterLab, which is not installed" in done.stderr
    assert 'pip install -c requirements/constraints.txt -e ".[lab]"' in done.stderr
    assert "URL" not in done.stdout and "open:" not in done.stdout
    assert not (tmp_path / "data").exists() and not (tmp_path / "work").exists()


def test_demo_serves_a_working_copy_and_keeps_the_lab_token_off_the_command_line(tmp_path):
    fake = tmp_path / "fake" / "jupyterlab"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "__main__.py").write_text(FAKE_LAB)
    pythonpath = os.pathsep.join([str(tmp_path / "fake"), os.environ.get("PYTHONPATH", "")])
    before = {p.name: p.read_bytes() for p in (REPO / "notebooks").glob("*.ipynb")}
    work = tmp_path / "work" / "notebooks"
    command = [
        sys.executable, "-m", "synapse_nb.cli", "demo", "--no-browser",
        "--data-dir", str(tmp_path / "data"), "--work-dir", str(work),
    ]  # fmt: skip
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=240,
        env=_clean_env(PYTHONPATH=pythonpath),
        cwd=REPO,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lab = json.loads(done.stdout.split("FAKE-LAB ", 1)[1].splitlines()[0])
    printed = re.search(r"open:\s+http://\S+/lab\?token=([0-9a-f]+)", done.stdout).group(1)
    assert lab["token"] == printed
    assert not any(printed in arg for arg in lab["argv"])
    assert Path(lab["notebook_dir"]) == work.resolve()
    assert lab["notebooks"] == sorted(before) and len(before) >= 7
    assert lab["backend"].startswith("http://127.0.0.1:")
    # the repository's notebooks are never what JupyterLab serves, and stay as they were
    assert {p.name: p.read_bytes() for p in (REPO / "notebooks").glob("*.ipynb")} == before


def test_prepare_work_dir_copies_once_keeps_edits_and_refreshes_on_request(tmp_path):
    source, work = tmp_path / "src", tmp_path / "home" / "notebooks"
    source.mkdir()
    (source / "01.ipynb").write_text('{"v": 1}')
    (source / "helper.py").write_text("x = 1")
    assert prepare_work_dir(source, work) == ["01.ipynb"]
    assert sorted(p.name for p in work.iterdir()) == ["01.ipynb"]

    (work / "01.ipynb").write_text('{"v": "mine"}')  # the user edits the copy
    (source / "02.ipynb").write_text('{"v": 2}')  # the repository gains a notebook
    assert prepare_work_dir(source, work) == ["02.ipynb"]
    assert (work / "01.ipynb").read_text() == '{"v": "mine"}'

    assert prepare_work_dir(source, work, refresh=True) == ["01.ipynb", "02.ipynb"]
    assert (work / "01.ipynb").read_text() == '{"v": 1}'
    assert (work / "01.ipynb.bak").read_text() == '{"v": "mine"}'
    assert not (work / "02.ipynb.bak").exists()  # unchanged copies need no backup


@pytest.mark.parametrize("inside", [".", "sub"])
def test_prepare_work_dir_refuses_a_work_dir_inside_the_source(tmp_path, inside):
    (tmp_path / "a.ipynb").write_text("{}")
    with pytest.raises(ValueError, match="must lie outside the notebooks"):
        prepare_work_dir(tmp_path, tmp_path / inside)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.ipynb"]


def test_default_work_dir_is_a_user_directory(monkeypatch, tmp_path):
    monkeypatch.delenv("SYNAPSE_NB_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_work_dir() == tmp_path / "synapse_nb" / "notebooks"
    monkeypatch.setenv("SYNAPSE_NB_HOME", str(tmp_path / "nb-home"))
    assert default_work_dir() == tmp_path / "nb-home" / "notebooks"
    assert REPO not in default_work_dir().parents


# --- synapse-nb serve: a bad flag is a usage error (status 2), never a traceback -------------

#: (flags, what the message names); ``{file}`` is an existing file
BAD_SERVE_FLAGS = [
    (["--port", "-5"], "--port"),
    (["--port", "99999"], "--port"),
    (["--port", "eighty"], "--port"),
    (["--rate-429", "2"], "--rate-429"),
    (["--rate-503", "nan"], "--rate-503"),
    (["--rate-drop", "-0.1"], "--rate-drop"),
    (["--rate-429", "0.6", "--rate-503", "0.6"], "--rate-429"),
    (["--latency-ms", "nan"], "--latency-ms"),
    (["--latency-ms", "inf"], "--latency-ms"),
    (["--latency-ms", "-1"], "--latency-ms"),
    (["--demo", "--seed", "-1"], "--seed"),
    (["--fault-seed", "x"], "--fault-seed"),
    (["--tasks", "-3"], "--tasks"),
    (["--token", "a b"], "--token"),
    (["--token", "tab\there"], "--token"),
    (["--token", "  "], "--token"),
    (["--host", "not.a.host.invalid"], "host='not.a.host.invalid'"),
    (["--data-dir", "{file}"], "--data-dir"),
]


@pytest.mark.parametrize(
    ("flags", "named"), BAD_SERVE_FLAGS, ids=[" ".join(flags) for flags, _ in BAD_SERVE_FLAGS]
)
def test_serve_refuses_a_bad_flag_with_a_usage_error(flags, named, tmp_path):
    existing_file = tmp_path / "a-file"
    existing_file.write_text("not a folder")
    flags = [flag.replace("{file}", str(existing_file)) for flag in flags]
    # a flag taken by mistake starts a server that never returns: the timeout kills it
    done = subprocess.run(
        [sys.executable, "-m", "synapse_nb.cli", "serve", "--port", "0", *flags],
        capture_output=True,
        text=True,
        timeout=30,
        env=_clean_env(),
        cwd=REPO,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert "synapse-nb serve: error:" in done.stderr
    error = done.stderr.split("synapse-nb serve: error:", 1)[1]
    assert named in error, done.stderr
    assert "URL:" not in done.stdout
    token = flags[flags.index("--token") + 1].strip() if "--token" in flags else ""
    if token:  # the token is never echoed
        assert token not in error


def test_serve_refuses_a_malformed_token_from_the_environment():
    done = subprocess.run(
        [sys.executable, "-m", "synapse_nb.cli", "serve", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        env=_clean_env(SYNAPSE_NB_TOKEN="secret token"),
        cwd=REPO,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "SYNAPSE_NB_TOKEN" in done.stderr and "secret token" not in done.stderr


# --- --fresh wipes only a data dir of the backend, and only once the backend could listen ----


def _serve_fresh(data_dir: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "synapse_nb.cli", "serve", "--fresh", "--data-dir", str(data_dir),
         *flags],
        capture_output=True,
        text=True,
        timeout=30,
        env=_clean_env(),
        cwd=REPO,
    )


def test_fresh_refuses_to_delete_a_folder_that_is_not_a_data_dir(tmp_path):
    folder = tmp_path / "thesis"
    folder.mkdir()
    (folder / "chapter1.tex").write_text("months of work")
    done = _serve_fresh(folder, "--port", "0")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "--fresh" in done.stderr and "nothing was deleted" in done.stderr, done.stderr
    assert "chapter1.tex" in done.stderr
    assert (folder / "chapter1.tex").read_text() == "months of work"
    assert "URL:" not in done.stdout


def test_fresh_refuses_a_folder_that_also_holds_a_database_of_the_backend(tmp_path):
    # e.g. a project folder where someone once ran `serve --data-dir .`
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "synapse.sqlite3").write_bytes(b"old database")
    (folder / "train.py").write_text("print('my work')")
    done = _serve_fresh(folder, "--port", "0")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "train.py" in done.stderr and "nothing was deleted" in done.stderr, done.stderr
    assert (folder / "train.py").exists() and (folder / "synapse.sqlite3").exists()


def test_fresh_refuses_a_link_and_leaves_it_and_its_folder(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "synapse.sqlite3").write_bytes(b"database")
    link = tmp_path / "link"
    link.symlink_to(data_dir, target_is_directory=True)
    done = _serve_fresh(link, "--port", "0")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "is a link" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert link.is_symlink() and (data_dir / "synapse.sqlite3").read_bytes() == b"database"


def test_fresh_refuses_a_data_dir_a_running_backend_uses_whatever_the_port(tmp_path):
    from synapse_nb.server import start

    data_dir = tmp_path / "data"
    with start(data_dir=data_dir, tasks=2):  # this process holds it; the command is another
        done = _serve_fresh(data_dir, "--port", "0")
        assert done.returncode == 2, done.stdout + done.stderr
        assert "is using the data dir" in done.stderr, done.stderr
        assert (data_dir / "synapse.sqlite3").stat().st_size > 0
    done = _serve_fresh(data_dir, "--port", "0", "--host", "not.a.host.invalid")
    assert "is using" not in done.stderr  # released once the backend stopped


def test_fresh_keeps_the_data_dir_when_the_port_is_taken(tmp_path):
    # the port may be held by the very backend that serves this data dir
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "synapse.sqlite3").write_bytes(b"live database")
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        port = held.getsockname()[1]
        done = _serve_fresh(data_dir, "--port", str(port))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert f"port={port}" in done.stderr and "not wiped" in done.stderr, done.stderr
    assert (data_dir / "synapse.sqlite3").read_bytes() == b"live database"


def test_fresh_keeps_the_data_dir_when_the_host_is_unknown(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "synapse.sqlite3").write_bytes(b"live database")
    done = _serve_fresh(data_dir, "--port", "0", "--host", "not.a.host.invalid")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "host='not.a.host.invalid'" in done.stderr and "not wiped" in done.stderr
    assert (data_dir / "synapse.sqlite3").read_bytes() == b"live database"


def test_fresh_wipes_a_data_dir_of_the_backend_and_starts_empty(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "synapse.sqlite3").write_bytes(b"an old database")
    (data_dir / "uploads").mkdir()
    (data_dir / "uploads" / "old-upload.bin").write_bytes(b"x")
    process = subprocess.Popen(
        [sys.executable, "-m", "synapse_nb.cli", "serve", "--fresh", "--port", "0",
         "--data-dir", str(data_dir), "--tasks", "3", "--token", "fresh-test-token"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_clean_env(), cwd=REPO,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        url = re.search(r"URL:\s+(\S+)", "".join(lines)).group(1)
        assert not (data_dir / "uploads" / "old-upload.bin").exists()
        assert not list(tmp_path.glob(".data.wiping-*"))  # the renamed folder went too
        page = requests.get(url + "sdk/tasks/", timeout=10,
                            headers={"Synapse-Access-Token": "Token fresh-test-token"})
        assert page.status_code == 200 and page.json()["count"] == 3
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0, "".join(lines)
