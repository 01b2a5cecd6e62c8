"""UploadProgress and JobMonitor in JupyterLab 4 and Notebook 7, against the embedded backend.

One notebook uploads two files in chunks and starts a plugin job. The test clicks Cancel
while the first file uploads, checks on the server that the partial upload stopped on a
chunk boundary and is not finished, clicks Retry on both rows and waits for the bars to
reach 100%; meanwhile the job monitor must follow the job to SUCCEEDED with its log.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from synapse_nb.clients import BackendClient
from synapse_nb.server import ServerHandle, start

from .browser_helpers import expect

# a notebook run plus the clicks take about 10 s, more on a loaded machine
pytestmark = [pytest.mark.browser, pytest.mark.slow]

FRONTENDS = pytest.mark.parametrize("frontend", ["lab", "notebook"])

CHUNK = 64 * 1024

CELLS = [
    "# %% md\n# Upload progress and job monitor",
    f"""\
import json
import os
from synapse_nb.frames import Client
from synapse_nb.widgets.jobs import JobMonitor
from synapse_nb.widgets.upload import UploadProgress

cfg = json.load(open("synapse-server.json"))
client = Client(cfg["url"], api_token=cfg["token"])
os.makedirs("upload-files", exist_ok=True)
paths = []
for name, size in (("scan-a.bin", 60 * {CHUNK} + 123), ("scan-b.bin", 8 * {CHUNK})):
    with open(os.path.join("upload-files", name), "wb") as out:
        out.write(os.urandom(size))
    paths.append(os.path.join("upload-files", name))""",
    f"bar = UploadProgress(paths, chunk_size={CHUNK})\nbar",
    "bar.upload(client);",
    """\
job = client.run_plugin(
    "numpy-trainer", {"action": "train", "params": {"epochs": 10, "delay": 0.4, "register": False}}
)
JobMonitor(client, job, poll_interval=0.3)""",
]


@pytest.fixture
def backend() -> Iterator[ServerHandle]:
    """A private demo workspace: the test slows it down, uploads and runs a job."""
    srv = start(demo=True)
    try:
        yield srv
    finally:
        srv.stop()


def write_connection(notebooks, frontend: str, srv: ServerHandle) -> None:
    folder = notebooks.server(frontend).notebook_dir
    (folder / "synapse-server.json").write_text(json.dumps({"url": srv.url, "token": srv.token}))


def upload_ids(srv: ServerHandle) -> list[str]:
    found = []
    for entry in srv.requests:
        match = re.fullmatch(r"/chunked_upload/([^/]+)/", entry["path"])
        if entry["method"] == "PUT" and match and match.group(1) not in found:
            found.append(match.group(1))
    return found


def bar_width(locator) -> float:
    """Width of a progress bar's filled part, in percent of the bar."""
    return locator.locator(".progress-bar").evaluate(
        "(el) => 100 * el.getBoundingClientRect().width"
        " / el.parentElement.getBoundingClientRect().width"
    )


@FRONTENDS
def test_upload_cancel_retry_and_job_monitor(notebooks, frontend, backend):
    write_connection(notebooks, frontend, backend)
    backend.set_faults(latency_ms=60, paths=("chunked_upload",))  # about 4 s for 60 chunks
    nbp = notebooks.open(frontend, f"upload-jobs-{frontend}", CELLS)
    nbp.run_all(screenshot=False)
    nbp.assert_ran_cleanly()

    upload = nbp.output(2)
    header = upload.locator(".widget-html").first
    expect(header).to_contain_text("uploading")
    rows = upload.locator(".snb-upload-file")
    expect(rows).to_have_count(2)
    upload.locator(".snb-upload-cancel").click()
    expect(header).to_contain_text("cancelled")
    retry = rows.locator("button", has_text="Retry")
    expect(retry.nth(0)).to_be_visible()
    expect(retry.nth(1)).to_be_visible()
    expect(rows.nth(0)).to_contain_text("cancelled")
    nbp.screenshot("-cancelled", target=upload)

    with BackendClient(backend.url, api_token=backend.token) as client:
        ids = upload_ids(backend)
        assert len(ids) == 1, ids  # the second file never started
        state = client.get_chunked_upload(ids[0])
    assert state["completed_at"] is None
    assert 0 < state["offset"] < 60 * CHUNK and state["offset"] % CHUNK == 0

    backend.set_faults()
    retry.nth(0).click()
    retry.nth(1).click()
    expect(header).to_contain_text("done", timeout=60_000)
    expect(header).to_contain_text("(100%)")
    assert bar_width(upload.locator(".snb-upload-total")) == pytest.approx(100, abs=1)
    expect(retry.nth(0)).to_be_hidden()
    expect(retry.nth(1)).to_be_hidden()
    expect(rows.nth(0)).to_contain_text("done")
    with BackendClient(backend.url, api_token=backend.token) as client:
        finished = client.get_chunked_upload(ids[0])
    assert finished["completed_at"] and finished["offset"] == 60 * CHUNK + 123
    nbp.screenshot("-uploaded", target=upload)

    monitor = nbp.output(4)
    status = monitor.locator(".snb-job-status")
    expect(status).to_have_text("SUCCEEDED", timeout=60_000)
    expect(monitor.locator(".snb-job-log")).to_contain_text("epoch 10/10 loss=")
    expect(monitor.locator(".snb-job-log")).to_contain_text("Done")
    assert bar_width(monitor.locator(".snb-job-progress")) == pytest.approx(100, abs=1)
    expect(monitor.locator(".snb-job-stop")).to_be_disabled()
    nbp.screenshot("-job", target=monitor)
    assert not nbp.widget_errors()
