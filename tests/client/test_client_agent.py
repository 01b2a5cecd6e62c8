"""AgentClient / RayClient against the embedded backend's agent routes (``<base>/agent/``)."""

from __future__ import annotations

import pytest

from synapse_nb.clients import AgentClient, RayClient
from synapse_nb.clients import agent as agent_module
from synapse_nb.exceptions import ClientError, InvalidInputError, ValidationError


@pytest.fixture(scope="module")
def agent(demo_srv):
    with AgentClient(demo_srv.url + "agent/", demo_srv.agent_token) as client:
        yield client


def _job(client):
    return client.run_plugin("numpy-trainer", {"action": "train", "params": {"epochs": 1}})["id"]


def test_agent_auth_header_is_the_raw_token(agent, demo_srv, wire):
    assert agent.health_check()["status"] == "ok"
    headers = wire.one("GET", "agent/health/")["headers"]
    assert headers["authorization"] == demo_srv.agent_token
    assert "synapse-access-token" not in headers
    assert demo_srv.agent_token not in repr(agent)


def test_user_and_tenant_headers(demo_srv, wire, monkeypatch):
    monkeypatch.setenv("SYNAPSE_AGENT_TOKEN", demo_srv.agent_token)
    with RayClient(demo_srv.url + "agent/", user_token="user-tok-1", tenant="demo") as ray:
        assert ray.timeout.as_requests() == (3.0, 10.0)
        ray.list_nodes()
    headers = wire.one("GET", "agent/nodes/")["headers"]
    assert headers["synapse-user"] == "Token user-tok-1"
    assert headers["synapse-tenant"] == "Token demo"


def test_jobs_nodes_tasks_and_serve_apps(agent):
    jobs = agent.list_jobs()["results"]
    assert jobs and agent.get_job(jobs[0]["job_id"])["status"] == jobs[0]["status"]
    node = agent.list_nodes()["results"][0]
    assert agent.get_node(node["node_id"])["alive"] is True
    task = agent.list_tasks()["results"][0]
    assert agent.get_task(task["task_id"])["job_id"] == task["job_id"]
    assert "results" in agent.list_serve_applications()


@pytest.mark.parametrize("protocol", ["stream", "websocket", "http"])
def test_tail_job_logs_every_protocol(agent, client, protocol):
    job = _job(client)
    if protocol == "http":
        list(agent.tail_job_logs(job, stream_timeout=20))  # wait for the end first
    lines = list(agent.tail_job_logs(job, stream_timeout=20, protocol=protocol))
    assert lines and all(line.endswith("\n") for line in lines)
    assert lines[0].startswith("Starting action")
    assert agent.list_job_logs(job).splitlines() == [line.rstrip("\n") for line in lines]


def test_stop_job_then_again_is_400(agent, client, wire):
    job = _job(client)
    assert agent.stop_job(job)["status"] == "STOPPED"
    assert wire.all("POST", f"agent/jobs/{job}/stop/")[0]["body"] == b""
    with pytest.raises(ValidationError) as info:
        agent.stop_job(job)
    assert info.value.status == 400


def test_stream_limits(monkeypatch):
    budget = agent_module._StreamBudget("jobs/x/logs/")
    assert budget.line("x" * (agent_module.MAX_LINE_BYTES + 1)) is None  # dropped silently
    assert budget.line("ok") == "ok\n"
    monkeypatch.setattr(agent_module, "MAX_LINES", 2)
    budget.line("two")
    with pytest.raises(ClientError) as info:
        budget.line("three")
    assert info.value.status_code == 429
    monkeypatch.setattr(agent_module, "MAX_WS_MESSAGES", 1)
    frames = iter(['{"type": "log", "message": "a"}', '{"type": "log", "message": "b"}'])
    with pytest.raises(ClientError, match="WebSocket messages"):
        list(agent_module.RayClientMixin._ws_lines(frames, "jobs/x/logs/"))


def test_error_event_raises_500():
    frames = iter(['{"type": "log", "message": "a"}', '{"type": "error", "message": "boom"}'])
    lines = agent_module.RayClientMixin._ws_lines(frames, "jobs/x/logs/")
    assert next(lines) == "a\n"
    with pytest.raises(ClientError) as info:
        next(lines)
    assert info.value.status_code == 500 and "boom" in str(info.value)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda a: a.get_job("bad id"), "pk"),
        (lambda a: a.get_job("job1\n"), "pk"),
        (lambda a: a.stop_job("job1\n"), "pk"),
        (lambda a: a.get_job("x" * 101), "pk"),
        (lambda a: a.stop_job("../etc"), "pk"),
        (lambda a: a.tail_job_logs("job1", stream_timeout=0), "stream_timeout"),
        (lambda a: a.tail_job_logs("job1", stream_timeout=301), "stream_timeout"),
        (lambda a: a.tail_job_logs("job1", protocol="carrier-pigeon"), "protocol"),
        (lambda a: a.websocket_tail_job_logs("job 1"), "pk"),
        (lambda a: a.get_node(""), "pk"),
        (lambda a: a.get_serve_application("a/b"), "pk"),
        (lambda a: a.delete_serve_application(None), "pk"),
    ],
)
def test_bad_input_raises_400_before_sending(agent, wire, call, field):
    with pytest.raises(InvalidInputError) as info:
        call(agent)
    assert info.value.field == field and info.value.status_code == 400
    assert wire.all() == []


def test_agent_token_is_required(monkeypatch):
    monkeypatch.delenv("SYNAPSE_AGENT_TOKEN", raising=False)
    with pytest.raises(InvalidInputError) as info:
        RayClient("http://127.0.0.1:9/")
    assert info.value.field == "agent_token"
