"""Plugin runs create jobs that really run; console logs and their SSE tail.

``make.job`` runs the tiny real plugin of ``srv_helpers`` (ten steps of 50 ms) in a job
process of the session server's local executor.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
import requests

TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}


def follow(api, job_id: str, timeout: float = 10.0) -> list[str]:
    """Poll the job until it is terminal; returns the distinct statuses in the order seen."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = api.get(f"jobs/{job_id}/").json()["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        if status in TERMINAL:
            return seen
        time.sleep(0.01)
    raise AssertionError(f"job {job_id} still {seen[-1]} after {timeout} s")


def sse_events(response: requests.Response) -> list[dict]:
    """Parse ``data: ...`` events; asserts the framing (one data line, then a blank line)."""
    events = []
    lines = response.iter_lines(decode_unicode=True)
    for line in lines:
        assert line.startswith("data: "), line
        events.append(json.loads(line[len("data: ") :]))
        assert next(lines) == "", "an event must end with a blank line"
    return events


def test_job_goes_pending_running_succeeded(api, make):
    job = make.job(params={"epochs": 2})
    assert job["status"] == "PENDING"
    assert job["id"] == job["job_id"]
    assert job["params"] == {"epochs": 2}  # no schema in the tiny plugin: passed through
    assert job["started"] is None and job["finished"] is None
    seen = follow(api, job["id"])
    assert seen[-1] == "SUCCEEDED"
    assert "RUNNING" in seen
    order = ["PENDING", "RUNNING", "SUCCEEDED"]
    assert [order.index(s) for s in seen] == sorted(order.index(s) for s in seen)
    done = api.get(f"jobs/{job['id']}/").json()
    assert done["started"] <= done["finished"]
    assert done["completed"] == done["finished"]
    assert done["progress_record"]["current_progress"]["overall"] == 100
    assert done["metrics_record"]["record"]["steps"]
    assert done["result"] == {"ok": True}
    assert done["plugin_release"]["version"] == "1.0.0"


def test_fail_param_ends_in_failed_with_the_traceback(api, make):
    job = make.job(params={"fail": True})
    assert follow(api, job["id"])[-1] == "FAILED"
    logs = api.get(f"jobs/{job['id']}/console_logs/", params={"level": "error"}).json()
    messages = [e["message"] for e in logs["results"]]
    traceback = next(m for m in messages if m.startswith("Traceback"))
    assert 'tiny.py", line' in traceback
    assert traceback.endswith("RuntimeError: failure requested by params.fail")
    assert messages[-1] == "The action raised: RuntimeError: failure requested by params.fail"
    result = api.get(f"jobs/{job['id']}/").json()["result"]
    assert result == {"error": messages[-1], "exit_code": 1}


def test_patch_stopped_stops_the_job(api, make, server):
    job = make.job(params={"steps": 200})
    follow_until_running(api, job["id"])
    response = api.patch(f"jobs/{job['id']}/", json={"status": "STOPPED"})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "STOPPED" and response.json()["finished"]
    deadline = time.monotonic() + 10
    while job["id"] in server.state.jobs.active_jobs():
        assert time.monotonic() < deadline, "the job process outlived its stop"
        time.sleep(0.05)
    done = api.get(f"jobs/{job['id']}/").json()
    assert done["status"] == "STOPPED"
    assert done["progress_record"]["record"]["current"] < 200  # it did not run to the end
    logs = api.get(f"jobs/{job['id']}/console_logs/", params={"page_size": 1000}).json()
    assert logs["results"][-1]["message"] == "Stopped on request"


def follow_until_running(api, job_id: str, timeout: float = 10.0) -> None:
    """Wait until the job's code reported progress (it runs, not just its process)."""
    deadline = time.monotonic() + timeout
    while not api.get(f"jobs/{job_id}/").json()["progress_record"]:
        assert time.monotonic() < deadline, f"job {job_id} never ran"
        time.sleep(0.02)


def test_patch_job_fields_and_status_case(api, make):
    job = make.job(params={"steps": 200})
    api.patch(f"jobs/{job['id']}/", json={"status": "stopped"})
    body = {
        "progress_record": {"record": {"a": 1}, "current_progress": {"overall": 40}},
        "metrics_record": {"record": {"steps": {"1": {"loss": 0.3}}}},
        "result": [1, 2, 3],
        "meta": {"k": "v"},
        "console_logs": [{"message": "from the agent", "level": "WARNING"}, "plain text line"],
    }
    response = api.patch(f"jobs/{job['id']}/", json=body)
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["status"] == "STOPPED"
    for key in ("progress_record", "metrics_record", "result", "meta"):
        assert updated[key] == body[key], key
    logs = api.get(f"jobs/{job['id']}/console_logs/", params={"page_size": 1000}).json()
    by_message = {entry["message"]: entry for entry in logs["results"]}
    assert by_message["from the agent"]["level"] == "warning"
    assert "plain text line" in by_message


def test_console_logs_envelope(api, make):
    job = make.job()
    follow(api, job["id"])
    body = api.get(f"jobs/{job['id']}/console_logs/").json()
    assert body["count"] == len(body["results"]) >= 10
    entry = body["results"][0]
    assert set(entry) == {"id", "event", "level", "step", "data", "message", "datetime"}
    assert [e["id"] for e in body["results"]] == sorted(e["id"] for e in body["results"])
    assert body["results"][-1]["message"] == "Done"
    paged = api.get(f"jobs/{job['id']}/console_logs/", params={"page_size": 3}).json()
    assert paged["next"] and len(paged["results"]) == 3


def test_tail_console_logs_streams_a_running_job(api, make):
    job = make.job()
    with api.get(f"jobs/{job['id']}/tail_console_logs/", stream=True, timeout=20) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        events = sse_events(response)
    assert events[0]["type"] == "connected"
    assert events[-1] == {"type": "complete", "status": "SUCCEEDED"}
    logs = events[1:-1]
    assert logs and all(e["type"] == "log" for e in logs)
    # the inner record is itself an SSE line (docs/protocol.md), as the SDK's CLI parser expects
    inner = [json.loads(e["data"].removeprefix("data: ").strip()) for e in logs]
    assert all(e["data"].startswith("data: ") and e["data"].endswith("\n") for e in logs)
    assert inner[-1]["message"] == "Done" and inner[-1]["type"] == "log"
    listed = api.get(f"jobs/{job['id']}/console_logs/", params={"page_size": 1000}).json()
    assert [i["message"] for i in inner] == [e["message"] for e in listed["results"]]


def test_tail_of_a_finished_job_replays_and_completes(api, make):
    job = make.job(params={"fail": True})
    follow(api, job["id"])
    with api.get(f"jobs/{job['id']}/tail_console_logs", stream=True, timeout=20) as response:
        events = sse_events(response)
    assert events[0]["type"] == "connected"
    assert events[-1] == {"type": "complete", "status": "FAILED"}
    assert len(events) > 3


def test_jobs_list_filters(api, make):
    job = make.job(action="export")
    code = job["plugin_release"]["plugin"]
    listed = api.get("jobs/", params={"plugin": code}).json()
    assert [j["id"] for j in listed["results"]] == [job["id"]]
    by_action = api.get("jobs/", params={"action": "export", "page_size": 1000}).json()
    assert job["id"] in [j["id"] for j in by_action["results"]]


# ------------------------------------------------------------------ agent side


@pytest.fixture
def agent_api(agent, server):
    with requests.Session() as session:
        session.headers["Authorization"] = agent.token  # raw, no "Token " prefix
        session.base = server.url + "agent/"
        yield session


def test_agent_side_job_routes(agent_api, api, make):
    job = make.job(params={"steps": 200})
    follow_until_running(api, job["id"])
    base = agent_api.base
    ray = agent_api.get(f"{base}jobs/{job['id']}/").json()
    assert ray["job_id"] == job["id"] and ray["status"] == "RUNNING"
    assert ray["entrypoint"] == "tiny:run"
    driver = ray["driver_info"]
    assert driver["executor"] == "local" and driver["active"] is True
    cmdline = Path(f"/proc/{driver['pid']}/cmdline").read_bytes().split(b"\0")
    assert job["id"].encode() in cmdline
    assert job["id"] in [j["job_id"] for j in agent_api.get(f"{base}jobs/").json()["results"]]
    stopped = agent_api.post(f"{base}jobs/{job['id']}/stop/")
    assert stopped.status_code == 200 and stopped.json()["status"] == "STOPPED"
    assert api.get(f"jobs/{job['id']}/").json()["status"] == "STOPPED"
    deadline = time.monotonic() + 10
    while agent_api.get(f"{base}jobs/{job['id']}/").json()["driver_info"]["active"]:
        assert time.monotonic() < deadline, "the stop did not end the job process"
        time.sleep(0.05)
    again = agent_api.post(f"{base}jobs/{job['id']}/stop/")
    assert again.status_code == 400
    text = agent_api.get(f"{base}jobs/{job['id']}/logs/")
    assert text.headers["Content-Type"].startswith("text/plain")
    assert agent_api.get(f"{base}jobs/bad%20id/").status_code == 400
    assert agent_api.get(f"{base}jobs/unknown-job/").status_code == 404


def test_agent_side_cluster_routes(agent_api, api):
    base = agent_api.base
    nodes = agent_api.get(f"{base}nodes/").json()
    node = nodes["results"][0]
    assert node["alive"] is True
    one = agent_api.get(f"{base}nodes/{node['node_id']}/").json()
    volatile = {"memory_available", "load_average", "running_jobs"}  # live readings
    assert {k: v for k, v in one.items() if k not in volatile} == {
        k: v for k, v in node.items() if k not in volatile
    }
    assert agent_api.get(f"{base}nodes/no-such-node/").status_code == 404
    tasks = agent_api.get(f"{base}tasks/").json()["results"]
    assert tasks
    assert agent_api.get(f"{base}tasks/{tasks[0]['task_id']}/").json() == tasks[0]
    assert agent_api.get(f"{base}tasks/task-987654321/").status_code == 404


def test_agent_side_reports_this_machine(agent_api):
    import os
    import shutil
    import socket
    from pathlib import Path

    node = agent_api.get(f"{agent_api.base}nodes/").json()["results"][0]
    assert node["node_id"] == socket.gethostname()
    assert node["resources"]["CPU"] == os.cpu_count()
    meminfo = Path("/proc/meminfo").read_text().split("\n")[0].split()
    assert node["memory_total"] == int(meminfo[1]) * 1024 == node["resources"]["memory"]
    assert 0 < node["memory_available"] <= node["memory_total"]
    gpu = agent_api.get(f"{agent_api.base}gpu_status/").json()
    assert gpu["cpu_count"] == os.cpu_count() and gpu["memory_total"] == node["memory_total"]
    assert gpu["nvidia_smi"] is (shutil.which("nvidia-smi") is not None)
    if not gpu["nvidia_smi"]:
        assert gpu["gpus"] == [] and gpu["total"] == 0


def test_agent_side_serves_no_applications_without_ray(agent_api, api, make):
    """The backend's registry keeps its serve applications; the agent (no Ray) runs none."""
    job = make.job()["id"]
    name = f"app-{job[:8]}"
    created = api.post("serve_applications/", json={"job": job, "name": name}).json()
    base = agent_api.base
    assert agent_api.get(f"{base}serve_applications/").json() == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
    }
    for method in ("get", "delete"):
        response = getattr(agent_api, method)(f"{base}serve_applications/{name}/")
        assert response.status_code == 404
        assert "without Ray" in response.json()["detail"]
    assert api.get(f"serve_applications/{created['id']}/").json()["name"] == name


@pytest.mark.parametrize(
    ("path", "framed"), [("jobs/{}/logs/", True), ("ray/jobs/{}/logs/ws/", False)]
)
def test_agent_websocket_log_tail(path, framed, agent, server, api, make):
    from websockets.sync.client import connect

    job = make.job()["id"]
    url = server.agent_url.replace("http://", "ws://") + path.format(job)
    frames = []
    with connect(url, additional_headers={"Authorization": agent.token}, open_timeout=10) as ws:
        for message in ws:  # ends when the server closes after the job finished
            frames.append(message)
    listed = api.get(f"jobs/{job}/console_logs/", params={"page_size": 1000}).json()
    messages = [entry["message"] for entry in listed["results"]]
    if framed:
        decoded = [json.loads(frame) for frame in frames]
        assert decoded[-1] == {"type": "complete", "message": "SUCCEEDED"}
        assert [d["message"] for d in decoded[:-1]] == messages
    else:
        assert frames == messages


def test_agent_websocket_refuses_with_the_real_status(server, agent, make, caplog):
    """A bad token is a 401 and an unknown job a 404 at the handshake, with no error logged."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    job = make.job()["id"]
    base = server.agent_url.replace("http://", "ws://")
    good = {"Authorization": agent.token}
    cases = [
        (f"jobs/{job}/logs/", {"Authorization": "0" * 40}, 401),
        ("jobs/no-such-job/logs/", good, 404),
        ("ray/jobs/no-such-job/logs/ws/", good, 404),
    ]
    uvicorn_log = logging.getLogger("uvicorn.error")
    uvicorn_log.addHandler(caplog.handler)
    try:
        for path, headers, status in cases:
            with (
                pytest.raises(InvalidStatus) as refused,
                connect(base + path, additional_headers=headers, open_timeout=5),
            ):
                pass
            assert refused.value.response.status_code == status, path
        time.sleep(0.2)
    finally:
        uvicorn_log.removeHandler(caplog.handler)
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []
