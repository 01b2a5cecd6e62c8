"""Plugin runs create jobs that really progress; console logs and their SSE tail.

The session server runs simulated jobs for 0.5 s (``job_duration=0.5``).
"""

from __future__ import annotations

import json
import logging
import time

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
    assert job["params"] == {"epochs": 2}
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


def test_fail_param_ends_in_failed(api, make):
    job = make.job(params={"fail": True})
    assert follow(api, job["id"])[-1] == "FAILED"
    logs = api.get(f"jobs/{job['id']}/console_logs/", params={"level": "error"}).json()
    assert logs["count"] == 1
    assert "failure" in logs["results"][0]["message"].lower()
    assert api.get(f"jobs/{job['id']}/").json()["result"] == {"error": "simulated failure"}


def test_patch_stopped_stops_the_job(api, make, server):
    job = make.job()
    response = api.patch(f"jobs/{job['id']}/", json={"status": "STOPPED"})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "STOPPED" and response.json()["finished"]
    time.sleep(server.state.jobs.duration + 0.3)  # long enough for the run to have finished
    assert api.get(f"jobs/{job['id']}/").json()["status"] == "STOPPED"


def test_patch_job_fields_and_status_case(api, make):
    job = make.job()
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
    # the inner record is itself an SSE line (contract 2.5), as SDK-26's CLI parser expects
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


# ------------------------------------------------------------------ agent side (contract 2.7)


@pytest.fixture
def agent_api(agent, server):
    with requests.Session() as session:
        session.headers["Authorization"] = agent.token  # raw, no "Token " prefix
        session.base = server.url + "agent/"
        yield session


def test_agent_side_job_routes(agent_api, api, make):
    job = make.job()
    base = agent_api.base
    ray = agent_api.get(f"{base}jobs/{job['id']}/").json()
    assert ray["job_id"] == job["id"] and ray["status"] in ("PENDING", "RUNNING")
    assert job["id"] in [j["job_id"] for j in agent_api.get(f"{base}jobs/").json()["results"]]
    stopped = agent_api.post(f"{base}jobs/{job['id']}/stop/")
    assert stopped.status_code == 200 and stopped.json()["status"] == "STOPPED"
    assert api.get(f"jobs/{job['id']}/").json()["status"] == "STOPPED"
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
    assert agent_api.get(f"{base}nodes/{node['node_id']}/").json() == node
    assert agent_api.get(f"{base}nodes/no-such-node/").status_code == 404
    tasks = agent_api.get(f"{base}tasks/").json()["results"]
    assert tasks
    assert agent_api.get(f"{base}tasks/{tasks[0]['task_id']}/").json() == tasks[0]
    assert agent_api.get(f"{base}tasks/task-987654321/").status_code == 404
    assert agent_api.get(f"{base}gpu_status/").json()["gpus"] == []


def test_agent_side_serve_applications(agent_api, api, make):
    job = make.job()["id"]
    name = f"app-{job[:8]}"
    created = api.post("serve_applications/", json={"job": job, "name": name}).json()
    base = agent_api.base
    assert agent_api.get(f"{base}serve_applications/{name}/").json()["id"] == created["id"]
    names = [a["name"] for a in agent_api.get(f"{base}serve_applications/").json()["results"]]
    assert name in names
    deleted = agent_api.delete(f"{base}serve_applications/{name}/")
    assert deleted.status_code == 204 and deleted.content == b""
    assert agent_api.get(f"{base}serve_applications/{name}/").status_code == 404
    assert api.get(f"serve_applications/{created['id']}/").status_code == 404


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
