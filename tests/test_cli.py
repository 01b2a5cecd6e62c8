"""``synapse-nb serve`` end to end: a real process, real HTTP, clean shutdown on SIGINT."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import requests


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
