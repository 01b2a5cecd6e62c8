"""The README's first command, headless: ``synapse-nb demo --no-browser``.

It must start the embedded backend, serve ``notebooks/`` in JupyterLab, and give the kernels
``SYNAPSE_NB_URL``/``SYNAPSE_API_TOKEN`` so that ``connect()`` in a notebook reaches that
backend. Checked end to end: the Jupyter REST API lists the notebooks, a kernel is started
through it, and code run in that kernel reports where ``connect()`` went.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from jupyter_client import BlockingKernelClient

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DemoCommand:
    """``synapse-nb demo --no-browser`` in a subprocess, with its printed lines collected."""

    def __init__(self, tmp: Path) -> None:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("SYNAPSE_NB_URL", "SYNAPSE_URL", "SYNAPSE_API_TOKEN")
        }
        # Jupyter's per-user dirs isolated; the installed labextensions stay visible
        self.runtime = tmp / "runtime"
        env.update(
            JUPYTER_RUNTIME_DIR=str(self.runtime),
            JUPYTER_CONFIG_DIR=str(tmp / "config"),
            IPYTHONDIR=str(tmp / "ipython"),
        )
        command = [
            sys.executable, "-m", "synapse_nb.cli", "demo", "--no-browser",
            "--lab-port", str(free_port()), "--data-dir", str(tmp / "workspace"), "--fresh",
            "--work-dir", str(tmp / "notebooks"),  # the working copy JupyterLab serves
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            cwd=REPO,  # as in the README: run from the repository
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str) -> re.Match[str]:
        deadline = time.monotonic() + START_TIMEOUT_S
        regex = re.compile(pattern)
        while time.monotonic() < deadline:
            for line in list(self.lines):
                found = regex.search(line)
                if found:
                    return found
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        tail = "\n".join(self.lines[-30:])
        raise AssertionError(f"no line matching {pattern!r}; output:\n{tail}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # the CLI stops JupyterLab, then itself
            try:
                return self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                return self.process.wait(timeout=10)
        return self.process.returncode


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[DemoCommand]:
    command = DemoCommand(tmp_path)
    try:
        yield command
    finally:
        command.stop()


KERNEL_CODE = textwrap.dedent(
    """
    import os
    from synapse_nb.session import connect, connection_source
    client = connect()
    print("URL", os.environ["SYNAPSE_NB_URL"])
    print("SOURCE", connection_source(client))
    print("TASKS", len(client.list_tasks({"project": 1}, list_all=True)))
    """
)


def run_in_kernel(connection_file: Path, code: str) -> str:
    client = BlockingKernelClient(connection_file=str(connection_file))
    client.load_connection_file()
    client.start_channels()
    out: list[str] = []

    def hook(message: dict) -> None:
        content = message["content"]
        if message["msg_type"] == "stream":
            out.append(content["text"])
        elif message["msg_type"] == "error":
            out.append("ERROR " + content["ename"] + ": " + content["evalue"])

    try:
        client.wait_for_ready(timeout=60)
        reply = client.execute_interactive(code, timeout=90, output_hook=hook)
    finally:
        client.stop_channels()
    assert reply["content"]["status"] == "ok", "".join(out)
    return "".join(out)


@pytest.mark.slow
def test_demo_no_browser_serves_the_notebooks_and_kernels_reach_its_backend(demo):
    backend = demo.wait_for(r"^  URL:\s+(http://127\.0\.0\.1:\d+/)$").group(1)
    demo.wait_for(r"JupyterLab on .*notebooks")
    lab = demo.wait_for(r"open:\s+(http://127\.0\.0\.1:\d+)/lab\?token=([0-9a-f]+)")
    base, token = lab.group(1), lab.group(2)
    headers = {"Authorization": f"token {token}"}

    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            if requests.get(f"{base}/api/status", headers=headers, timeout=5).ok:
                break
        except requests.ConnectionError:
            pass
        assert time.monotonic() < deadline, "JupyterLab never answered"
        time.sleep(0.25)

    contents = requests.get(f"{base}/api/contents", headers=headers, timeout=10).json()
    names = {entry["name"] for entry in contents["content"]}
    assert {"01_quickstart.ipynb", "07_explorer.ipynb"} <= names
    assert requests.get(f"{base}/lab", headers=headers, timeout=10).status_code == 200

    kernel = requests.post(
        f"{base}/api/kernels", json={"name": "python3"}, headers=headers, timeout=30
    ).json()
    connection_file = demo.runtime / f"kernel-{kernel['id']}.json"
    output = run_in_kernel(connection_file, KERNEL_CODE)
    assert f"URL {backend}" in output
    assert "SOURCE the embedded backend of `synapse-nb demo` / Binder ($SYNAPSE_NB_URL)" in output
    assert "TASKS 240" in output
    requests.delete(f"{base}/api/kernels/{kernel['id']}", headers=headers, timeout=30)

    assert demo.stop() == 0
