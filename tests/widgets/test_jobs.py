"""JobMonitor following real plugin jobs of the embedded backend (dummy comm).

The jobs run the demo's built-in numpy trainer in job processes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import numpy as np
import pytest
from demo_backends import backend_fixture
from part_a_helpers import dummy_comm, frontend_click, journal_mark, requests_since  # noqa: F401

from synapse_nb.exceptions import InvalidInputError
from synapse_nb.frames import Client
from synapse_nb.server import ServerHandle
from synapse_nb.widgets.jobs import JobMonitor

pytestmark = pytest.mark.usefixtures("dummy_comm")

#: seconds a job runs here (ten epochs, paced): long enough to click Stop while it runs
JOB_SECONDS = 2.0


server = backend_fixture()


@pytest.fixture
def client(server: ServerHandle) -> Iterator[Client]:
    server.set_faults()
    with Client(server.url, api_token=server.token) as c:
        yield c
    server.set_faults()


def run_job(client: Client, fail: bool = False, **params) -> dict:
    """Ten epochs paced over ``JOB_SECONDS``: 12 log lines (start, one per epoch, "Done").

    ``fail`` resumes from a job that saved no checkpoint, so the action raises.
    """
    params = {"epochs": 10, "delay": JOB_SECONDS / 10, "register": False, **params}
    if fail:
        params["resume_from"] = "no-such-job"
    return client.run_plugin("numpy-trainer", {"action": "train", "params": params})


def server_messages(client: Client, job_id: str) -> list[str]:
    items, _count = client.raw.list_job_console_logs(job_id, list_all=True)
    return [e["message"] for e in items]


class NoTailClient:
    """A client without ``tail_job_console_logs`` (an older SDK): the monitor must poll."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def get_job(self, *args, **kwargs):
        return self._client.get_job(*args, **kwargs)

    def update_job(self, *args, **kwargs):
        return self._client.update_job(*args, **kwargs)

    def list_job_console_logs(self, *args, **kwargs):
        return self._client.raw.list_job_console_logs(*args, **kwargs)


def test_nothing_is_fetched_before_start(server, client):
    job = run_job(client)
    mark = journal_mark(server)
    monitor = JobMonitor(client, job)
    assert requests_since(server, mark) == []
    state = monitor.get_state()
    assert state["job_id"] == job["id"] and state["status"] == "" and not state["following"]
    monitor.close()


@pytest.mark.parametrize("timeout", ["soon", -1, float("nan"), True])
def test_wait_names_a_timeout_that_is_no_number_of_seconds(server, client, timeout):
    monitor = JobMonitor(client, run_job(client))
    with pytest.raises(InvalidInputError) as info:
        monitor.wait(timeout)  # "soon" was a TypeError from inside; -1 was taken as 0
    assert info.value.field == "timeout"
    assert monitor.wait(np.float64(0.0)) is monitor  # numpy numbers are seconds too
    monitor.close()


def test_follows_a_job_to_success_through_the_tail_stream(server, client):
    job = run_job(client)
    mark = journal_mark(server)
    monitor = JobMonitor(client, job["id"], poll_interval=0.2)
    statuses = []
    monitor.on_status(lambda m: statuses.append(m.status))
    started = time.monotonic()
    monitor.start()
    assert time.monotonic() - started < 0.5  # returns at once: the threads do the waiting
    assert monitor.get_state()["following"] is True
    monitor.wait(30)
    state = monitor.get_state()
    assert state["status"] == "SUCCEEDED" and state["progress"] == 100.0
    assert state["following"] is False and state["log_source"] == "tail"
    messages = server_messages(client, job["id"])
    assert [line.split(" ", 2)[2] for line in monitor.lines] == messages
    assert state["log_lines"] == len(messages) == 12
    assert statuses[-1] == "SUCCEEDED" and "RUNNING" in statuses
    assert len(statuses) == len(set(statuses))  # called on changes only
    assert monitor._bar.value == 100.0 and monitor._bar.bar_style == "success"
    assert monitor._stop.disabled
    assert "Done" in monitor._log.value and "SUCCEEDED" in monitor._title.value
    paths = [r["path"] for r in requests_since(server, mark)]
    assert f"/jobs/{job['id']}/tail_console_logs/" in paths


def test_shows_the_eta_and_a_live_chart_of_the_logged_metrics(server, client):
    job = run_job(client)
    monitor = JobMonitor(client, job["id"], poll_interval=0.1).start()
    deadline = time.monotonic() + 20
    while not (monitor.status == "RUNNING" and monitor.metrics):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert "ETA" in monitor._title.value
    partial = len(monitor.metrics["loss"])
    monitor.wait(30)
    assert monitor.status == "SUCCEEDED" and "ETA" not in monitor._title.value
    record = client.get_job(job["id"])["metrics_record"]["record"]["epoch"]
    expected = sorted((float(step), values["loss"]) for step, values in record.items())
    assert monitor.metrics["loss"] == expected and len(expected) == 10 > partial
    assert set(monitor.metrics) == {"loss", "val_loss", "accuracy", "val_accuracy"}
    chart = monitor._chart.value
    assert chart.count("<polyline") == 4 and f"loss {expected[-1][1]:.4g}" in chart


def test_stop_button_stops_the_job_on_the_server(server, client):
    job = run_job(client)
    monitor = JobMonitor(client, job["id"], poll_interval=0.2).start()
    stopped = []
    monitor.on_stop(stopped.append)
    deadline = time.monotonic() + 20
    while monitor.progress < 20 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert monitor.status == "RUNNING"
    mark = journal_mark(server)
    frontend_click(monitor._stop)
    monitor.wait(20)
    patches = [r for r in requests_since(server, mark) if r["method"] == "PATCH"]
    assert len(patches) == 1 and patches[0]["path"] == f"/jobs/{job['id']}/"
    assert json.loads(patches[0]["body"]) == {"status": "STOPPED"}
    assert client.get_job(job["id"])["status"] == "STOPPED"
    assert monitor.status == "STOPPED" and stopped == [monitor]
    assert not monitor.following and monitor._bar.bar_style == "warning"
    assert 1 <= monitor.log_lines < 12
    assert monitor.lines[-1].split(" ", 2)[2] == server_messages(client, job["id"])[-1]


def test_polls_when_the_client_has_no_tail(server, client):
    job = run_job(client, fail=True)
    monitor = JobMonitor(NoTailClient(client), job["id"], poll_interval=0.2).start()
    monitor.wait(30)
    assert monitor.log_source == "poll"
    assert monitor.status == "FAILED" and monitor._bar.bar_style == "danger"
    messages = server_messages(client, job["id"])
    assert [line.split(" ", 2)[2] for line in monitor.lines] == messages
    assert any(line.split(" ")[1] == "error" for line in monitor.lines)
    with pytest.raises(InvalidInputError, match=r"follow='tail': the client has no tail"):
        JobMonitor(NoTailClient(client), job["id"], follow="tail")


def test_a_finished_job_from_a_jobs_frame(client):
    jobs = client.list_jobs({"status": "SUCCEEDED"})
    row = jobs.iloc[0]
    monitor = JobMonitor(client, row, max_lines=3).start().wait(20)
    messages = server_messages(client, row.name)
    assert monitor.status == "SUCCEEDED" and monitor.log_lines == len(messages) > 3
    assert [line.split(" ", 2)[2] for line in monitor.lines] == messages[-3:]


def test_close_ends_the_threads_and_the_requests(server, client):
    job = run_job(client)
    monitor = JobMonitor(client, job["id"], poll_interval=0.1).start()
    time.sleep(0.3)
    monitor.close()
    monitor.wait(5)
    assert not any(t.is_alive() for t in monitor._threads)
    mark = journal_mark(server)
    time.sleep(0.5)
    assert [r for r in requests_since(server, mark) if job["id"] in r["path"]] == []
    assert client.get_job(job["id"])["status"] in ("RUNNING", "PENDING")  # the job goes on
    with pytest.raises(InvalidInputError, match="is closed"):
        monitor.start()


def test_start_returns_at_once_on_a_slow_server(server, client):
    job = run_job(client)
    server.set_faults(latency_ms=400)
    started = time.monotonic()
    monitor = JobMonitor(client, job["id"], poll_interval=0.2).start()
    assert time.monotonic() - started < 0.2
    monitor.wait(40)
    assert monitor.status == "SUCCEEDED"


def test_unknown_job_shows_the_error_and_stops(client):
    monitor = JobMonitor(client, "00000000-0000-0000-0000-000000000000", poll_interval=0.1)
    monitor.start().wait(20)
    assert not monitor.following
    assert "snb-error" in monitor._message.value and "404" in monitor._message.value


def test_bad_input_names_the_field(server, client):
    mark = journal_mark(server)
    with pytest.raises(InvalidInputError, match=r"invalid job=None"):
        JobMonitor(client, None)
    with pytest.raises(InvalidInputError, match=r"invalid job=True"):
        JobMonitor(client, True)
    with pytest.raises(InvalidInputError, match=r"invalid client='object': has no get_job"):
        JobMonitor(object(), "abc")
    with pytest.raises(InvalidInputError, match=r"invalid follow='sse'"):
        JobMonitor(client, "abc", follow="sse")
    with pytest.raises(InvalidInputError, match=r"invalid poll_interval=0"):
        JobMonitor(client, "abc", poll_interval=0)
    with pytest.raises(InvalidInputError, match=r"invalid max_lines=0"):
        JobMonitor(client, "abc", max_lines=0)
    assert requests_since(server, mark) == []


def test_a_quiet_stream_reconnects_without_repeating_lines(server, client):
    # a seeded RUNNING job that no runner advances: its stream goes quiet and times out
    running = client.list_jobs({"status": "RUNNING"})
    seeded = running[running.params.apply(lambda p: isinstance(p, dict) and "epochs" in p)]
    job_id = seeded.index[0]
    before = server_messages(client, job_id)
    monitor = JobMonitor(client, job_id, poll_interval=0.2).start()  # stream timeout: 1 s
    deadline = time.monotonic() + 10
    while monitor.log_lines < len(before) and time.monotonic() < deadline:
        time.sleep(0.02)
    mark = journal_mark(server)
    time.sleep(2.5)  # at least two timeouts and reconnects, each replaying the old lines
    tails = [r for r in requests_since(server, mark) if r["path"].endswith("tail_console_logs/")]
    assert len(tails) >= 2
    assert monitor.log_lines == len(before)
    client.update_job(job_id, {"console_logs": [{"message": "late line", "level": "info"}]})
    client.update_job(job_id, {"status": "SUCCEEDED"})
    monitor.wait(20)
    assert monitor.status == "SUCCEEDED" and not monitor.following
    messages = [line.split(" ", 2)[2] for line in monitor.lines]
    assert messages == [*before, "late line"]
